#pragma once

// `cbdc-wallet offline STEP`: a hardware wallet (offline/device.hpp) kept in a file beside the
// wallet's key, certified and loaded by the wallet's bank, paying and receiving with no
// network through a message in a file (or a QR code), reconciled when back online.

#include <functional>
#include <memory>
#include <string>

#include "bank/client.hpp"
#include "core/crypto.hpp"

namespace cbdc::wallet {

struct offline_options {
  std::string step;         ///< init, load, pay, receive, sync, unload, show
  std::string device_path;  ///< the device's file
  std::string to;           ///< pay: the payee device's key (hex)
  std::string amount_text;
  std::string message_path;  ///< pay: where the message goes; receive: where it comes from
  std::string qr_path;       ///< pay: also as a QR code (SVG), when it fits
  bool json{false};
};

/// Prints a failure (as JSON with --json) and gives the exit code 1: every command's way out.
auto fail(const error& err, bool json) -> int;

/// Runs one step; returns the exit code (0 done, 1 refused or failed: the reason printed).
auto run_offline(const offline_options& o, const key_pair& wallet,
                 const std::function<std::unique_ptr<bank::client>()>& at_bank) -> int;

}  // namespace cbdc::wallet
