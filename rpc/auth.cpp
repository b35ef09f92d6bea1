// Node identities and role tables: the nodes file, the ZAP handler that admits listed keys,
// and who may send each request.
#include "rpc/auth.hpp"

#include <sodium.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "core/ids.hpp"
#include "rpc/transport.hpp"

namespace cbdc {
namespace {

constexpr std::array<std::pair<role, std::string_view>, 8> k_role_names{{
    {role::shard, "shard"},
    {role::coordinator, "coordinator"},
    {role::issuer, "issuer"},
    {role::bank, "bank"},
    {role::dealer, "dealer"},
    {role::pos, "pos"},
    {role::operator_, "operator"},
    {role::customer, "customer"},
}};

auto key_from_hex(std::string_view hex) -> std::optional<curve_key> {
  auto raw = from_hex(hex);
  if (!raw || raw->size() != 32) {
    return std::nullopt;
  }
  curve_key key{};
  std::copy(raw->begin(), raw->end(), key.begin());
  return key;
}

auto read_file(const std::filesystem::path& file) -> result<std::string> {
  std::ifstream in(file);
  if (!in) {
    return error{status_code::io_error, "cannot read " + file.string()};
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

auto role_name(role r) -> std::string_view {
  for (const auto& [value, name] : k_role_names) {
    if (value == r) {
      return name;
    }
  }
  return "unknown";
}

auto role_from_name(std::string_view name) -> std::optional<role> {
  for (const auto& [value, text] : k_role_names) {
    if (text == name) {
      return value;
    }
  }
  return std::nullopt;
}

auto role_set::names() const -> std::string {
  std::string out;
  for (const auto& [value, name] : k_role_names) {
    if (has(value)) {
      out += (out.empty() ? "" : "|") + std::string{name};
    }
  }
  return out.empty() ? std::string{"none (internal only)"} : out;
}

auto peer::operates(std::string_view node) const -> bool {
  if (!authenticated) {
    return true;
  }
  if (name == node && r != role::operator_ && r != role::customer) {
    return true;
  }
  return r == role::operator_ && name.size() > node.size() && name.starts_with(node) &&
         name[node.size()] == '/';
}

auto peer::must_be(std::string_view claimed, std::string_view field) const -> status {
  if (!authenticated || name == claimed) {
    return ok_status();
  }
  return error{status_code::not_authorized, std::string{field} + " " + std::string{claimed} +
                                                " is not the caller (" + describe() + ")"};
}

auto peer::describe() const -> std::string {
  if (!authenticated) {
    return "an unauthenticated caller";
  }
  return std::string{role_name(r)} + " " + name;
}

// ---- node keys ----

auto node_key::generate() -> node_key {
  CBDC_ASSERT(sodium_init() >= 0);
  node_key k;
  // CURVE is Curve25519: libsodium's box key pair is exactly a ZeroMQ CURVE key pair.
  CBDC_ASSERT(crypto_box_keypair(k.public_key.data(), k.secret_key.data()) == 0);
  return k;
}

auto node_key::load(const std::filesystem::path& file) -> result<node_key> {
  auto text = read_file(file);
  if (!text) {
    return text.err();
  }
  std::istringstream lines(*text);
  std::string line;
  std::optional<curve_key> pub;
  std::optional<curve_key> sec;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string label;
    std::string hex;
    words >> label >> hex;
    if (label == "public") {
      pub = key_from_hex(hex);
    } else if (label == "secret") {
      sec = key_from_hex(hex);
    }
  }
  if (!pub || !sec) {
    return error{status_code::key_error, file.string() + " is not a cbdc node key file"};
  }
  node_key k{*pub, *sec};
  curve_key derived{};
  CBDC_ASSERT(sodium_init() >= 0);
  if (crypto_scalarmult_base(derived.data(), k.secret_key.data()) != 0 || derived != *pub) {
    return error{status_code::key_error, file.string() + ": the public key is not the secret's"};
  }
  return k;
}

auto node_key::save(const std::filesystem::path& file) const -> status {
  if (file.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(file.parent_path(), ec);
  }
  const auto old_mask = ::umask(077);
  std::ofstream out(file, std::ios::trunc);
  ::umask(old_mask);
  if (!out) {
    return error{status_code::io_error, "cannot write " + file.string()};
  }
  out << "# cbdc node key (ZeroMQ CURVE); the secret line must stay private\n"
      << "public " << to_hex(public_key) << "\n"
      << "secret " << to_hex(secret_key) << "\n";
  out.close();
  ::chmod(file.c_str(), 0600);
  if (!out) {
    return error{status_code::io_error, "cannot write " + file.string()};
  }
  return ok_status();
}

auto node_key::public_hex() const -> std::string {
  return to_hex(public_key);
}

// ---- nodes file ----

auto node_directory::load(const std::filesystem::path& file) -> result<node_directory> {
  auto text = read_file(file);
  if (!text) {
    return text.err();
  }
  return parse(*text, file.string());
}

auto node_directory::parse(std::string_view text, const std::string& origin)
    -> result<node_directory> {
  node_directory dir;
  std::istringstream lines{std::string{text}};
  std::string line;
  int number = 0;
  while (std::getline(lines, line)) {
    ++number;
    const auto where = origin + ":" + std::to_string(number) + ": ";
    std::istringstream words(line);
    std::vector<std::string> fields;
    for (std::string w; words >> w;) {
      fields.push_back(w);
    }
    if (fields.empty() || fields.front().starts_with('#')) {
      continue;
    }
    if (fields.size() < 3 || fields.size() > 4) {
      return error{status_code::parse_error,
                   where + "expected `name role public-key [endpoint]`, got " +
                       std::to_string(fields.size()) + " fields"};
    }
    node_entry e;
    e.name = fields[0];
    const auto r = role_from_name(fields[1]);
    if (!r || *r == role::customer) {
      return error{status_code::parse_error, where + "unknown role " + fields[1]};
    }
    e.r = *r;
    const auto key = key_from_hex(fields[2]);
    if (!key) {
      return error{status_code::parse_error, where + "not a 32-byte hex public key"};
    }
    e.key = *key;
    if (fields.size() == 4) {
      std::istringstream list(fields[3]);
      for (std::string ep; std::getline(list, ep, ',');) {
        if (ep.empty()) {
          return error{status_code::parse_error, where + "an empty endpoint in " + fields[3]};
        }
        if (dir.by_endpoint(ep) != nullptr) {
          return error{status_code::parse_error, where + "the endpoint " + ep.append(" twice")};
        }
        e.endpoints.push_back(ep);
      }
    }
    if (dir.by_name(e.name) != nullptr) {
      return error{status_code::parse_error, where + "the name " + e.name + " twice"};
    }
    if (dir.by_key(e.key) != nullptr) {
      return error{status_code::parse_error, where + "the key of " + e.name + " twice"};
    }
    dir.m_entries.push_back(std::move(e));
  }
  return dir;
}

auto node_directory::by_key(const curve_key& key) const -> const node_entry* {
  for (const auto& e : m_entries) {
    if (e.key == key) {
      return &e;
    }
  }
  return nullptr;
}

auto node_directory::by_endpoint(std::string_view endpoint) const -> const node_entry* {
  for (const auto& e : m_entries) {
    if (std::find(e.endpoints.begin(), e.endpoints.end(), endpoint) != e.endpoints.end()) {
      return &e;
    }
  }
  return nullptr;
}

auto node_directory::by_name(std::string_view name) const -> const node_entry* {
  for (const auto& e : m_entries) {
    if (e.name == name) {
      return &e;
    }
  }
  return nullptr;
}

auto node_directory::format(const node_entry& e) -> std::string {
  std::string line = e.name + " " + std::string{role_name(e.r)} + " " + to_hex(e.key);
  for (std::size_t i = 0; i < e.endpoints.size(); ++i) {
    line += (i == 0 ? " " : ",") + e.endpoints[i];
  }
  return line;
}

// ---- a process's security ----

auto node_security::load(const std::filesystem::path& key_file,
                         const std::filesystem::path& nodes_file)
    -> result<std::shared_ptr<node_security>> {
  auto key = node_key::load(key_file);
  if (!key) {
    return key.err();
  }
  auto nodes = node_directory::load(nodes_file);
  if (!nodes) {
    return nodes.err();
  }
  return std::make_shared<node_security>(*key, std::move(*nodes), nodes_file);
}

node_security::node_security(node_key key, node_directory nodes, std::filesystem::path nodes_file)
    : m_key(key),
      m_nodes_file(std::move(nodes_file)),
      m_nodes(std::make_shared<const node_directory>(std::move(nodes))) {}

auto node_security::directory() const -> std::shared_ptr<const node_directory> {
  std::lock_guard lock(m_mutex);
  return m_nodes;
}

auto node_security::self() const -> std::optional<node_entry> {
  const auto dir = directory();
  if (const auto* e = dir->by_key(m_key.public_key)) {
    return *e;
  }
  return std::nullopt;
}

auto node_security::identify(const curve_key& key) const -> std::optional<peer> {
  const auto dir = directory();
  if (const auto* e = dir->by_key(key)) {
    return peer{e->name, e->r, true};
  }
  return std::nullopt;
}

auto node_security::reload() -> status {
  if (m_nodes_file.empty()) {
    return ok_status();
  }
  auto nodes = node_directory::load(m_nodes_file);
  if (!nodes) {
    return nodes.err();
  }
  set_directory(std::move(*nodes));
  return ok_status();
}

void node_security::set_directory(node_directory nodes) {
  auto fresh = std::make_shared<const node_directory>(std::move(nodes));
  std::lock_guard lock(m_mutex);
  m_nodes = std::move(fresh);
}

// ---- a deployment's roster ----

node_roster::node_roster(std::filesystem::path dir) : m_dir(std::move(dir)) {
  std::error_code ec;
  std::filesystem::create_directories(m_dir, ec);
}

auto node_roster::add(const std::string& name, role r, std::vector<std::string> endpoints)
    -> status {
  for (const auto& e : m_entries) {
    if (e.name == name) {
      return error{status_code::bad_request, "the node " + name + " twice"};
    }
  }
  const auto key = node_key::generate();
  std::filesystem::remove(key_file(name));
  if (auto saved = key.save(key_file(name)); !saved) {
    return saved;
  }
  m_entries.push_back(node_entry{name, r, key.public_key, std::move(endpoints)});
  std::ofstream out(nodes_file(), std::ios::trunc);
  out << "# name role public-key [endpoints]: the deployment's nodes (written by cbdc)\n";
  for (const auto& e : m_entries) {
    out << node_directory::format(e) << "\n";
  }
  out.close();
  if (!out) {
    return error{status_code::io_error, "cannot write " + nodes_file()};
  }
  return ok_status();
}

auto node_roster::nodes_file() const -> std::string {
  return (m_dir / "nodes").string();
}

auto node_roster::key_file(const std::string& name) const -> std::string {
  std::string file = name;
  std::replace(file.begin(), file.end(), '/', '+');
  return (m_dir / (file + ".key")).string();
}

auto node_roster::flags(const std::string& name) const -> std::vector<std::string> {
  return {"--node-key", key_file(name), "--nodes", nodes_file()};
}

auto node_roster::security(const std::string& name) const
    -> result<std::shared_ptr<node_security>> {
  return node_security::load(key_file(name), nodes_file());
}

// ---- ZAP ----

namespace {

struct zap_domain {
  std::weak_ptr<node_security> security;
  bool admit_customers{false};
  std::optional<role_set> roles;
};

class zap_handler {
 public:
  static auto instance() -> zap_handler& {
    static auto* handler = new zap_handler();  // lives as long as the process's context
    return *handler;
  }

  auto add(const std::shared_ptr<node_security>& security, bool admit_customers,
           std::optional<role_set> roles) -> std::string {
    std::lock_guard lock(m_mutex);
    auto name = "cbdc-" + std::to_string(++m_next);
    m_domains.emplace(name, zap_domain{security, admit_customers, roles});
    return name;
  }

 private:
  zap_handler() {
    // Bound before any CURVE server exists (ZeroMQ asks the handler at each handshake on the
    // context's inproc://zeromq.zap.01); the thread ends when the context terminates.
    m_socket = std::make_unique<zmq::socket_t>(shared_context(), zmq::socket_type::rep);
    m_socket->set(zmq::sockopt::linger, 0);
    m_socket->bind("inproc://zeromq.zap.01");
    std::thread([this] { run(); }).detach();
  }

  auto admits(const std::string& domain, const std::string& mechanism, const std::string& key_raw)
      -> std::pair<bool, std::string> {
    if (mechanism != "CURVE" || key_raw.size() != 32) {
      return {false, "CURVE only"};
    }
    curve_key key{};
    std::copy(key_raw.begin(), key_raw.end(), key.begin());
    std::lock_guard lock(m_mutex);
    const auto it = m_domains.find(domain);
    if (it == m_domains.end()) {
      return {false, "unknown domain"};
    }
    const auto security = it->second.security.lock();
    if (!security) {
      return {false, "server closed"};
    }
    if (const auto known = security->identify(key)) {
      if (!it->second.roles || it->second.roles->has(known->r)) {
        return {true, to_hex(key)};
      }
      return {false, "role " + std::string{role_name(known->r)} + " may not connect here"};
    }
    if (it->second.admit_customers) {
      return {true, to_hex(key)};
    }
    return {false, "key not on the allow-list"};
  }

  void run() {
    try {
      while (true) {
        std::vector<zmq::message_t> frames;
        if (!zmq::recv_multipart(*m_socket, std::back_inserter(frames))) {
          continue;
        }
        if (frames.size() < 6) {
          continue;  // not a ZAP request; REP needs an answer, but a short one cannot come
        }
        const auto [ok, text] = admits(frames[2].to_string(), frames[5].to_string(),
                                       frames.size() > 6 ? frames[6].to_string() : std::string{});
        std::array<zmq::const_buffer, 6> reply{
            zmq::str_buffer("1.0"),
            zmq::buffer(frames[1].data(), frames[1].size()),
            ok ? zmq::str_buffer("200") : zmq::str_buffer("400"),
            ok ? zmq::str_buffer("OK") : zmq::buffer(text),
            ok ? zmq::buffer(text) : zmq::str_buffer(""),
            zmq::str_buffer(""),
        };
        (void)zmq::send_multipart(*m_socket, reply);
      }
    } catch (const zmq::error_t&) {
      m_socket->close();  // the context is terminating
    }
  }

  std::unique_ptr<zmq::socket_t> m_socket;
  std::mutex m_mutex;
  std::map<std::string, zap_domain> m_domains;
  std::uint64_t m_next{0};
};

}  // namespace

auto register_zap_domain(const std::shared_ptr<node_security>& security, bool admit_customers,
                         std::optional<role_set> roles) -> std::string {
  CBDC_ASSERT(security != nullptr);
  return zap_handler::instance().add(security, admit_customers, roles);
}

}  // namespace cbdc
