#include "tests/support/pg_scratch.hpp"

#include <unistd.h>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <pqxx/pqxx>

namespace cbdc::test {

auto with_database(const std::string& url, const std::string& db) -> std::string {
  // Accepts postgresql:///NAME?params and postgresql://host:port/NAME?params.
  const auto scheme = url.find("://");
  const auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (slash == std::string::npos) {
    return url + "/" + db;
  }
  const auto query = url.find('?', slash);
  return url.substr(0, slash + 1) + db + (query == std::string::npos ? "" : url.substr(query));
}

pg_scratch::pg_scratch() {
  const char* env = std::getenv("CBDC_PG_URL");
  if (env == nullptr || *env == '\0') {
    FAIL(
        "CBDC_PG_URL is not set: run the tests through scripts/test, or start a cluster with "
        "scripts/pg start and export the URL it prints");
  }
  m_base = env;
  static std::atomic<int> counter{0};
  m_name = "cbdc_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
  pqxx::connection conn(m_base);
  pqxx::nontransaction tx(conn);
  tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(m_name));
  tx.exec("CREATE DATABASE " + tx.quote_name(m_name));
  m_url = with_database(m_base, m_name);
}

pg_scratch::~pg_scratch() {
  try {
    pqxx::connection conn(m_base);
    pqxx::nontransaction tx(conn);
    tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(m_name) + " WITH (FORCE)");
  } catch (const std::exception&) {
    // A leftover scratch database is harmless; the cluster is throwaway.
  }
}

}  // namespace cbdc::test
