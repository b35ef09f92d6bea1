#pragma once

// Node identities and role tables: the nodes file, the ZAP handler that admits listed keys,
// and who may send each request.

#include <array>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"

namespace cbdc {

/// What a node is to the others: the role tables of docs/protocol.md are written in these.
/// `customer` is not a node: a bank admits any key as a customer, whose requests prove
/// themselves by their wallet signature.
enum class role : std::uint8_t {
  shard,
  coordinator,
  issuer,
  bank,
  dealer,
  pos,
  operator_,
  customer,
};

auto role_name(role r) -> std::string_view;
auto role_from_name(std::string_view name) -> std::optional<role>;

/// A set of roles (a bit each), for the role tables.
class role_set {
 public:
  constexpr role_set() = default;
  constexpr role_set(std::initializer_list<role> roles) {
    for (const auto r : roles) {
      m_bits |= bit(r);
    }
  }
  [[nodiscard]] constexpr auto has(role r) const -> bool { return (m_bits & bit(r)) != 0; }
  /// "bank|issuer|dealer", for not_authorized's detail.
  [[nodiscard]] auto names() const -> std::string;

 private:
  static constexpr auto bit(role r) -> std::uint32_t {
    return std::uint32_t{1} << static_cast<unsigned>(r);
  }
  std::uint32_t m_bits{0};
};

/// The operator nodes of the two tiers: those that may submit payments to settlement (a POS
/// pays through its bank: a payer's signed payment handed to it must pass the payer's limits).
inline constexpr role_set k_operator_nodes{role::bank, role::issuer, role::dealer};
/// Who may follow settlement's notifications: the operator nodes and the merchants' tills.
inline constexpr role_set k_subscribers{role::bank, role::issuer, role::dealer, role::pos};

using curve_key = std::array<std::uint8_t, 32>;

/// The caller of a request as its server's authentication saw it. With authentication off
/// (a bench or a developer's run, never the scripts) every caller is `unauthenticated` and
/// passes every role check.
struct peer {
  std::string name;
  role r{role::customer};
  bool authenticated{false};

  /// Whether the peer may act as the operator of `node`: the node's own key (its command-line
  /// tools) or an operator entry named "<node>/<who>". True when unauthenticated.
  [[nodiscard]] auto operates(std::string_view node) const -> bool;
  /// ok when the peer is the node `claimed` (a request's bank_id or payer_bank), or when
  /// unauthenticated; else not_authorized.
  [[nodiscard]] auto must_be(std::string_view claimed, std::string_view field) const -> status;
  [[nodiscard]] auto describe() const -> std::string;
};

/// A node's long-term CURVE key pair (ZeroMQ CURVE: Curve25519), kept in a file of two hex
/// lines readable by its owner only.
struct node_key {
  curve_key public_key{};
  curve_key secret_key{};

  static auto generate() -> node_key;
  /// Errors: io_error (missing or unreadable), key_error (not a node key file).
  static auto load(const std::filesystem::path& file) -> result<node_key>;
  /// Writes the file with mode 0600. Errors: io_error.
  [[nodiscard]] auto save(const std::filesystem::path& file) const -> status;
  [[nodiscard]] auto public_hex() const -> std::string;
};

/// One line of a nodes file: `name role public-key-hex [endpoint[,endpoint...]]`.
struct node_entry {
  std::string name;
  role r{role::customer};
  curve_key key{};
  /// Where the node serves (its request socket, its PUB socket), when it is a server: how
  /// clients find its key.
  std::vector<std::string> endpoints;
};

/// A deployment's nodes file: the allow-list of every server that reads it (only these keys
/// pass the handshake, each with its name and role) and the directory in which a client finds
/// the key of the server at an endpoint. Public keys only: it is not secret.
class node_directory {
 public:
  /// Errors: io_error, parse_error naming the file and line (unknown role, bad key, a name or a
  /// key twice).
  static auto load(const std::filesystem::path& file) -> result<node_directory>;
  static auto parse(std::string_view text, const std::string& origin) -> result<node_directory>;

  [[nodiscard]] auto by_key(const curve_key& key) const -> const node_entry*;
  [[nodiscard]] auto by_endpoint(std::string_view endpoint) const -> const node_entry*;
  [[nodiscard]] auto by_name(std::string_view name) const -> const node_entry*;
  [[nodiscard]] auto entries() const -> const std::vector<node_entry>& { return m_entries; }
  /// The line for a nodes file.
  static auto format(const node_entry& e) -> std::string;

 private:
  std::vector<node_entry> m_entries;
};

/// A process's identity and its view of the deployment, shared by all its sockets. The nodes
/// file is read again by reload() (the daemons call it on SIGHUP): a key removed from it is
/// refused from its next request on, also on connections already open.
class node_security {
 public:
  /// Errors: those of node_key::load and node_directory::load.
  static auto load(const std::filesystem::path& key_file, const std::filesystem::path& nodes_file)
      -> result<std::shared_ptr<node_security>>;
  node_security(node_key key, node_directory nodes, std::filesystem::path nodes_file = {});

  [[nodiscard]] auto key() const -> const node_key& { return m_key; }
  [[nodiscard]] auto directory() const -> std::shared_ptr<const node_directory>;
  /// This node's own entry in the directory (by its public key), if it has one.
  [[nodiscard]] auto self() const -> std::optional<node_entry>;
  /// The peer a key authenticates as now, or nullopt when the directory does not list it.
  [[nodiscard]] auto identify(const curve_key& key) const -> std::optional<peer>;
  /// Reads the nodes file again; on an error the old directory stays.
  auto reload() -> status;
  /// Replaces the directory (tests, and servers bound to port 0 whose endpoint is known late).
  void set_directory(node_directory nodes);

 private:
  node_key m_key;
  std::filesystem::path m_nodes_file;
  mutable std::mutex m_mutex;
  std::shared_ptr<const node_directory> m_nodes;
};

/// Makes a deployment's identities in a folder: a key file per node and the nodes file, as the
/// simulator and the process tests do before they start the nodes (scripts/nodes in shell).
class node_roster {
 public:
  /// Creates the folder; the nodes file starts empty.
  explicit node_roster(std::filesystem::path dir);
  /// A fresh key for the node (the file key_file(name)) and its line in the nodes file. Errors:
  /// io_error, bad_request (the name twice).
  auto add(const std::string& name, role r, std::vector<std::string> endpoints = {}) -> status;
  [[nodiscard]] auto nodes_file() const -> std::string;
  /// <dir>/<name>.key, with '/' (an operator's name) written '+'.
  [[nodiscard]] auto key_file(const std::string& name) const -> std::string;
  /// --node-key FILE --nodes FILE, for a node's command line.
  [[nodiscard]] auto flags(const std::string& name) const -> std::vector<std::string>;
  /// The node's security, in this process (a client of the deployment's servers).
  [[nodiscard]] auto security(const std::string& name) const
      -> result<std::shared_ptr<node_security>>;

 private:
  std::filesystem::path m_dir;
  std::vector<node_entry> m_entries;
};

/// Registers a ZAP domain of the process's one ZAP handler (started on first use): a CURVE
/// client connecting to a socket of that domain passes the handshake when `security`'s
/// directory lists its key (with a role in `roles`, when given), or always (as a customer) when
/// `admit_customers`. The handler holds `security` weakly. Returns the domain's name.
auto register_zap_domain(const std::shared_ptr<node_security>& security, bool admit_customers,
                         std::optional<role_set> roles = std::nullopt) -> std::string;

}  // namespace cbdc
