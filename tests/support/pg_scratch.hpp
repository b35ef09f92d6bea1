#pragma once

// Throwaway databases on the test cluster, one per test.
#include <string>

namespace cbdc::test {

/// A throwaway database on the test cluster ($CBDC_PG_URL, which scripts/test sets):
/// created empty on construction, dropped on destruction.
class pg_scratch {
 public:
  pg_scratch();
  ~pg_scratch();
  pg_scratch(const pg_scratch&) = delete;
  auto operator=(const pg_scratch&) -> pg_scratch& = delete;

  [[nodiscard]] auto url() const -> const std::string& { return m_url; }
  [[nodiscard]] auto name() const -> const std::string& { return m_name; }

 private:
  std::string m_base;
  std::string m_name;
  std::string m_url;
};

}  // namespace cbdc::test
