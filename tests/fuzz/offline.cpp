// Offline payments as a payee's device reads them from a file or a QR code: whatever decodes
// encodes to bytes that decode to the same message, and a device verifying it answers with a
// status (it never takes a payment nobody certified) and stays whole.
#include <string>

#include "core/assert.hpp"
#include "offline/device.hpp"
#include "tests/fuzz/target.hpp"

CBDC_FUZZ_TARGET(offline) {
  using namespace cbdc;
  auto m = offline::decode_payment(byte_view{data, size});
  if (!m) {
    return;
  }
  const auto bytes = offline::encode(*m);
  auto again = offline::decode_payment(bytes);
  CBDC_ASSERT(again.ok());
  CBDC_ASSERT(offline::encode(*again) == bytes);
  // A payee certified by a bank the fuzzer does not know the key of: nothing it makes up passes.
  constexpr std::int64_t k_now_s = 1'800'000'000;
  static const auto central = key_pair::from_seed(profile::ed25519, indexed_seed(1, 0xf0));
  static const auto bank = key_pair::from_seed(profile::ed25519, indexed_seed(2, 0xf0));
  static const auto key = key_pair::from_seed(profile::ed25519, indexed_seed(3, 0xf0));
  auto payee = offline::device::create(
      key,
      offline::certify_device(bank, "fuzz-bank", key.pub(), 4, *offline::default_limits(4),
                              k_now_s + 1000),
      offline::certify_bank(central, "fuzz-bank", bank.pub(), currency::cny, k_now_s + 1000),
      central.pub(), k_now_s);
  CBDC_ASSERT(payee.ok());
  const auto taken = payee->receive(*again, k_now_s);
  CBDC_ASSERT(!taken.ok());
  CBDC_ASSERT(payee->balance().minor() == 0);
}
