// PostgreSQL through libpqxx: connections, numbered migrations, binary arrays, and libpqxx's
// exceptions turned into status values.
#include "platform/pg.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <pqxx/pqxx>

#include "core/assert.hpp"
#include "core/ids.hpp"

namespace cbdc::pg {

auto resolve_url(const std::string& given) -> result<std::string> {
  if (!given.empty()) {
    return given;
  }
  if (const char* env = std::getenv("CBDC_PG_URL"); env != nullptr && *env != '\0') {
    return std::string{env};
  }
  return error{status_code::not_found,
               "no database given: pass --db URL or set CBDC_PG_URL (scripts/pg start prints one)"};
}

auto connect(const std::string& url) -> result<std::unique_ptr<pqxx::connection>> {
  try {
    return std::make_unique<pqxx::connection>(url);
  } catch (const std::exception& e) {
    return error{status_code::unavailable,
                 std::string{"cannot connect to PostgreSQL: "} + e.what()};
  }
}

auto migrate(pqxx::connection& conn, std::string_view schema,
             const std::vector<migration>& migrations) -> result<int> {
  try {
    const std::string s{schema};
    {
      pqxx::work tx(conn);
      // Serialise concurrent migrators of the same schema.
      tx.exec("SELECT pg_advisory_xact_lock(hashtext(" + tx.quote("cbdc_migrate_" + s) + "))");
      tx.exec("CREATE SCHEMA IF NOT EXISTS " + tx.quote_name(s));
      tx.exec("CREATE TABLE IF NOT EXISTS " + tx.quote_name(s) +
              ".schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL "
              "DEFAULT now())");
      tx.commit();
    }
    auto sorted = migrations;
    std::sort(sorted.begin(), sorted.end(),
              [](const migration& a, const migration& b) { return a.name < b.name; });
    int applied = 0;
    for (const auto& m : sorted) {
      pqxx::work tx(conn);
      tx.exec("SELECT pg_advisory_xact_lock(hashtext(" + tx.quote("cbdc_migrate_" + s) + "))");
      const auto seen = tx.exec("SELECT 1 FROM " + tx.quote_name(s) +
                                ".schema_migrations WHERE name = " + tx.quote(m.name));
      if (!seen.empty()) {
        continue;
      }
      tx.exec(m.sql);
      tx.exec("INSERT INTO " + tx.quote_name(s) + ".schema_migrations (name) VALUES (" +
              tx.quote(m.name) + ")");
      tx.commit();
      ++applied;
    }
    return applied;
  } catch (const pqxx::broken_connection& e) {
    return error{status_code::unavailable, std::string{"PostgreSQL connection lost: "} + e.what()};
  } catch (const std::exception& e) {
    return error{status_code::db_error, std::string{"migration failed: "} + e.what()};
  }
}

auto bytea_param(const void* data, std::size_t size) -> std::string {
  return "\\x" + to_hex(byte_view{static_cast<const std::uint8_t*>(data), size});
}

}  // namespace cbdc::pg

namespace cbdc::pg {

auto text_array(const std::vector<std::string>& values) -> std::string {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) {
      out += ',';
    }
    out += '"';
    for (const char c : values[i]) {
      if (c == '"' || c == '\\') {
        out += '\\';
      }
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

void binary_array::put32(std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    m_body.push_back(static_cast<char>((v >> static_cast<unsigned>(shift)) & 0xffU));
  }
}

void binary_array::add(const void* data, std::size_t size) {
  CBDC_ASSERT(m_type == element::bytea || m_type == element::text);
  CBDC_ASSERT(size < (1U << 30U));  // PostgreSQL's largest field
  put32(static_cast<std::uint32_t>(size));
  m_body.append(static_cast<const char*>(data), size);
  ++m_count;
}

void binary_array::add_int(std::int64_t value) {
  const auto u = static_cast<std::uint64_t>(value);
  switch (m_type) {
    case element::int8:
      put32(8);
      put32(static_cast<std::uint32_t>(u >> 32U));
      put32(static_cast<std::uint32_t>(u & 0xffffffffU));
      break;
    case element::int4:
      CBDC_ASSERT(value >= INT32_MIN && value <= INT32_MAX);
      put32(4);
      put32(static_cast<std::uint32_t>(u & 0xffffffffU));
      break;
    case element::int2:
      CBDC_ASSERT(value >= INT16_MIN && value <= INT16_MAX);
      put32(2);
      m_body.push_back(static_cast<char>((u >> 8U) & 0xffU));
      m_body.push_back(static_cast<char>(u & 0xffU));
      break;
    default: CBDC_ASSERT(false && "an integer in a bytea or text array");
  }
  ++m_count;
}

auto binary_array::param() const -> pqxx::binarystring {
  // Header: dimensions, has-nulls flag, element type; then each dimension's length and lower
  // bound (none for an empty array); then each element as its length and bytes.
  binary_array head(m_type);
  head.put32(m_count == 0 ? 0 : 1);
  head.put32(0);
  head.put32(static_cast<std::uint32_t>(m_type));
  if (m_count > 0) {
    head.put32(m_count);
    head.put32(1);
  }
  head.m_body += m_body;
  return pqxx::binarystring(head.m_body.data(), head.m_body.size());
}

auto int_array(const std::vector<std::int64_t>& values) -> std::string {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) {
      out += ',';
    }
    out += std::to_string(values[i]);
  }
  out += '}';
  return out;
}

auto with_database(const std::string& url, const std::string& db) -> std::string {
  const auto scheme = url.find("://");
  const auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (slash == std::string::npos) {
    return url + "/" + db;
  }
  const auto query = url.find('?', slash);
  return url.substr(0, slash + 1) + db + (query == std::string::npos ? "" : url.substr(query));
}

auto fresh_database(const std::string& base_url, const std::string& name) -> result<std::string> {
  try {
    pqxx::connection conn(base_url);
    pqxx::nontransaction tx(conn);
    tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(name) + " WITH (FORCE)");
    tx.exec("CREATE DATABASE " + tx.quote_name(name));
    return with_database(base_url, name);
  } catch (const std::exception& e) {
    return error{status_code::unavailable, "cannot create database " + name + ": " + e.what()};
  }
}

auto connect_migrated(const std::string& url, std::string_view schema,
                      const std::vector<migration>& migrations)
    -> result<std::unique_ptr<pqxx::connection>> {
  auto conn = connect(url);
  if (!conn) {
    return conn.err();
  }
  if (auto applied = migrate(**conn, schema, migrations); !applied) {
    return applied.err();
  }
  return conn;
}

}  // namespace cbdc::pg
