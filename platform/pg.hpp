#pragma once

// PostgreSQL through libpqxx: connections, numbered migrations, binary arrays, and libpqxx's
// exceptions turned into status values.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"

#include <pqxx/binarystring>
#include <pqxx/connection>
#include <pqxx/except>

namespace cbdc::pg {

/// One numbered migration of sql/<service>/NNN_name.sql; the name is the file name without
/// ".sql" and orders the migrations.
struct migration {
  std::string name;
  std::string sql;
};

/// The database URL: the given one, else $CBDC_PG_URL. Error not_found when neither is set.
auto resolve_url(const std::string& given) -> result<std::string>;

/// Opens a connection. Errors: unavailable.
auto connect(const std::string& url) -> result<std::unique_ptr<pqxx::connection>>;

/// Applies, in name order, every migration not yet recorded in <schema>.schema_migrations,
/// each in its own transaction together with its record, under an advisory lock so that two
/// processes migrating at once apply each file once. Returns how many were applied.
auto migrate(pqxx::connection& conn, std::string_view schema,
             const std::vector<migration>& migrations) -> result<int>;

/// connect, then migrate the service's schema: a service's database, ready. Errors as theirs.
auto connect_migrated(const std::string& url, std::string_view schema,
                      const std::vector<migration>& migrations)
    -> result<std::unique_ptr<pqxx::connection>>;

/// Runs fn, turning libpqxx exceptions into typed errors: unavailable for a lost connection,
/// internal for a commit in doubt (never resend: the caller stops and the restart reloads the
/// truth), db_error for the rest. Domain code never sees a pqxx exception.
template <typename Fn>
auto guarded(Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const pqxx::broken_connection& e) {
    return error{status_code::unavailable, std::string{"PostgreSQL connection lost: "} + e.what()};
  } catch (const pqxx::in_doubt_error& e) {
    return error{status_code::internal, std::string{"commit in doubt: "} + e.what()};
  } catch (const std::exception& e) {
    return error{status_code::db_error, e.what()};
  }
}

/// Text for a PostgreSQL bytea literal of raw bytes, as a parameter: "\\x0a1b...".
auto bytea_param(const void* data, std::size_t size) -> std::string;

}  // namespace cbdc::pg

namespace cbdc::pg {
/// The URL with its database name replaced (postgresql:///NAME?... or postgresql://h:p/NAME?...).
auto with_database(const std::string& url, const std::string& db) -> std::string;
/// Drops (if present) and creates an empty database on the cluster of base_url; returns its URL.
auto fresh_database(const std::string& base_url, const std::string& name) -> result<std::string>;

/// A PostgreSQL array literal of text values, every element quoted and escaped, for binding a
/// whole column as one parameter ("{\"a\",\"b\"}").
auto text_array(const std::vector<std::string>& values) -> std::string;
/// An array literal of integers.
auto int_array(const std::vector<std::int64_t>& values) -> std::string;

/// A one-dimensional array in PostgreSQL's binary format, bound as one binary parameter (pqxx
/// sends a binarystring as binary): a whole column of a batch without text to build here, nor
/// an array literal to parse and hex to decode on the server. The statement casts the
/// parameter to the same array type ("$1::bytea[]"); the server refuses another element type.
class binary_array {
 public:
  enum class element : std::uint32_t { bytea = 17, int8 = 20, int2 = 21, int4 = 23, text = 25 };
  explicit binary_array(element type) : m_type(type) {}

  /// A bytea or text element.
  void add(const void* data, std::size_t size);
  void add(std::string_view s) { add(s.data(), s.size()); }
  /// An integer element, at the array's width (checked: it must fit).
  void add_int(std::int64_t value);

  [[nodiscard]] auto size() const -> std::size_t { return m_count; }
  [[nodiscard]] auto param() const -> pqxx::binarystring;

 private:
  void put32(std::uint32_t v);
  element m_type;
  std::string m_body;
  std::uint32_t m_count{0};
};
}  // namespace cbdc::pg
