// Throwaway databases on the test cluster (tests/support/pg_scratch.hpp).
#include "tests/support/pg_scratch.hpp"

#include "platform/pg.hpp"

#include <unistd.h>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <pqxx/pqxx>

namespace cbdc::test {

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
  auto url = pg::fresh_database(m_base, m_name);
  if (!url) {
    FAIL(to_string(url.err()));
  }
  m_url = *url;
}

pg_scratch::~pg_scratch() {
  try {
    // Prepared transactions a test left (a shard killed between PREPARE and its decision)
    // would keep the database from being dropped and count against the cluster's
    // max_prepared_transactions for every later test: roll them back first.
    pqxx::connection scratch(m_url);
    pqxx::nontransaction in_scratch(scratch);
    const auto gids =
        in_scratch.exec("SELECT gid FROM pg_prepared_xacts WHERE database = current_database()");
    for (const auto& row : gids) {
      in_scratch.exec("ROLLBACK PREPARED " + in_scratch.quote(row[0].as<std::string>()));
    }
  } catch (const std::exception&) {
    // The drop below says whether the database is gone.
  }
  try {
    pqxx::connection conn(m_base);
    pqxx::nontransaction tx(conn);
    tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(m_name) + " WITH (FORCE)");
  } catch (const std::exception&) {
    // A leftover scratch database is harmless; the cluster is throwaway.
  }
}

}  // namespace cbdc::test
