// An auditor's account checked against a shard's ledger (settlement/ledger.hpp).
#include "settlement/ledger.hpp"

#include <pqxx/pqxx>

#include "platform/pg.hpp"

namespace cbdc::settlement {
namespace {

/// Rows for a temporary table of two text columns, sent in chunks as they come.
class chunked_rows {
 public:
  chunked_rows(pqxx::work& w, std::string table) : m_work(w), m_table(std::move(table)) {}
  void add(std::string first, std::string second) {
    m_first.push_back(std::move(first));
    m_second.push_back(std::move(second));
    ++m_count;
    if (m_first.size() >= k_chunk) {
      flush();
    }
  }
  void flush() {
    if (m_first.empty()) {
      return;
    }
    m_work.exec_params("INSERT INTO " + m_table +
                           " SELECT decode(x, 'hex'), y FROM unnest($1::text[], $2::text[]) AS "
                           "u(x, y)",
                       pg::text_array(m_first), pg::text_array(m_second));
    m_first.clear();
    m_second.clear();
  }
  [[nodiscard]] auto count() const -> std::size_t { return m_count; }

 private:
  static constexpr std::size_t k_chunk = 20'000;
  pqxx::work& m_work;
  std::string m_table;
  std::vector<std::string> m_first;
  std::vector<std::string> m_second;
  std::size_t m_count{0};
};

}  // namespace

struct ledger_check::impl {
  explicit impl(const std::string& url) : conn(url), work(conn) {
    work.exec("CREATE TEMP TABLE acked (tx_id bytea, unused text) ON COMMIT DROP");
    work.exec("CREATE TEMP TABLE acked_input (token_id bytea, tx_hex text) ON COMMIT DROP");
    work.exec("CREATE TEMP TABLE expect_balance (owner_key bytea, amount text) ON COMMIT DROP");
  }
  pqxx::connection conn;
  pqxx::work work;
  chunked_rows acked{work, "acked"};
  chunked_rows inputs{work, "acked_input"};
  chunked_rows balances{work, "expect_balance"};
};

ledger_check::ledger_check(std::unique_ptr<impl> i) : m_impl(std::move(i)) {}
ledger_check::~ledger_check() = default;

auto ledger_check::open(const std::string& db_url) -> result<std::unique_ptr<ledger_check>> {
  return pg::guarded([&]() -> result<std::unique_ptr<ledger_check>> {
    return std::unique_ptr<ledger_check>(new ledger_check(std::make_unique<impl>(db_url)));
  });
}

auto ledger_check::acknowledged(const hash256& tx, const std::vector<hash256>& inputs) -> status {
  return pg::guarded([&]() -> status {
    const auto tx_hex = tx.hex();
    m_impl->acked.add(tx_hex, {});
    for (const auto& in : inputs) {
      m_impl->inputs.add(in.hex(), tx_hex);
    }
    return ok_status();
  });
}

auto ledger_check::expect_balance(const public_key& owner, std::int64_t minor) -> status {
  return pg::guarded([&]() -> status {
    m_impl->balances.add(owner.hex(), std::to_string(minor));
    return ok_status();
  });
}

auto ledger_check::finish() -> result<ledger_findings> {
  return pg::guarded([&]() -> result<ledger_findings> {
    auto& x = m_impl->work;
    m_impl->acked.flush();
    m_impl->inputs.flush();
    m_impl->balances.flush();
    const auto count = [&x](const char* query) {
      return static_cast<std::size_t>(x.exec1(query)[0].as<std::int64_t>());
    };
    ledger_findings f;
    f.acknowledged = m_impl->acked.count();
    f.inputs = m_impl->inputs.count();
    f.balances = m_impl->balances.count();
    f.spent_twice = count("SELECT count(*) - count(DISTINCT token_id) FROM acked_input");
    f.missing = count(
        "SELECT count(*) FROM acked a WHERE NOT EXISTS (SELECT 1 FROM settlement.tx t WHERE "
        "t.tx_id = a.tx_id)");
    f.not_spent_by_it = count(
        "SELECT count(*) FROM acked_input a LEFT JOIN settlement.spent s ON s.token_id = "
        "a.token_id WHERE s.spent_by IS DISTINCT FROM decode(a.tx_hex, 'hex')");
    f.balances_off = count(
        "SELECT count(*) FROM expect_balance e LEFT JOIN (SELECT owner_key, sum(amount_minor) AS "
        "held FROM settlement.token t WHERE NOT EXISTS (SELECT 1 FROM settlement.spent s WHERE "
        "s.token_id = t.token_id) GROUP BY owner_key) u USING (owner_key) WHERE "
        "coalesce(u.held, 0) <> e.amount::bigint");
    return f;
  });
}

}  // namespace cbdc::settlement
