// Node keys and a nodes file for tests: the identities of a deployment, in-process (socket
// options per node) or on disk (key files and the nodes file, for processes).
#pragma once

#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <string>

#include "rpc/auth.hpp"
#include "rpc/transport.hpp"

namespace cbdc::test {

class test_nodes {
 public:
  /// Adds a node (an endpoint for a server that clients find by it).
  auto add(const std::string& name, role r, const std::string& endpoint = {}) -> test_nodes& {
    return add(name, r,
               endpoint.empty() ? std::vector<std::string>{} : std::vector<std::string>{endpoint});
  }
  /// Adds a node serving on several endpoints (a shard's requests and notifications).
  auto add(const std::string& name, role r, const std::vector<std::string>& endpoints)
      -> test_nodes& {
    REQUIRE(!m_keys.contains(name));
    m_keys.emplace(name, node_key::generate());
    m_text += node_directory::format(node_entry{name, r, m_keys.at(name).public_key, endpoints});
    m_text += "\n";
    m_security.clear();
    return *this;
  }
  [[nodiscard]] auto key(const std::string& name) const -> const node_key& {
    return m_keys.at(name);
  }
  [[nodiscard]] auto text() const -> const std::string& { return m_text; }
  /// The node's security (its key and the whole directory), one per node.
  auto security(const std::string& name) -> std::shared_ptr<node_security> {
    auto& s = m_security[name];
    if (!s) {
      auto dir = node_directory::parse(m_text, "test nodes");
      REQUIRE(dir.ok());
      s = std::make_shared<node_security>(m_keys.at(name), std::move(*dir));
    }
    return s;
  }
  /// Options of a server run by `name`.
  auto server(const std::string& name) -> socket_options {
    socket_options o;
    o.security = security(name);
    return o;
  }
  /// Options of `name` as a client of the server node `to` (its key given: the server may be
  /// bound to port 0).
  auto client(const std::string& name, const std::string& to, int timeout_ms = 3000)
      -> socket_options {
    socket_options o;
    o.security = security(name);
    o.server_key = m_keys.at(to).public_key;
    o.timeout_ms = timeout_ms;
    return o;
  }

 private:
  std::map<std::string, node_key> m_keys;
  std::string m_text;
  std::map<std::string, std::shared_ptr<node_security>> m_security;
};

}  // namespace cbdc::test
