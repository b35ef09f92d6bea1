// The simulator's auditor (sim/audit.hpp): what a replay's answers say, checked against the
// model and against what settlement, the issuer and each bank hold.
#include "sim/audit.hpp"

#include <chrono>
#include <pqxx/pqxx>
#include <string>
#include <thread>

#include "platform/pg.hpp"
#include "sim/model.hpp"

namespace cbdc::sim {
namespace {

/// Rows for a temporary table of two text columns, sent in chunks as they come: the auditor's
/// lists of every payment, input and balance would otherwise sit in memory beside the replay's
/// state (at national scale they were the run's peak).
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

void audit(const trace& t, const scenario& sc, const replay_view& d, world& w, replay_result& r) {
  auto& report = r.audit;
  // 1. Every answer against the model.
  {
    const auto expected = expected_statuses(t, sc);
    std::size_t agreed = 0;
    for (std::size_t i = 0; i < t.events.size(); ++i) {
      const auto got = r.outcomes[i].status;
      const auto want = t.events[i].kind == event_kind::topup ? status_code::ok : expected[i];
      if (got == want) {
        ++agreed;
      } else if (report.problems.size() < 20) {
        report.problems.push_back("event " + std::to_string(i) + ": answered " +
                                  std::string{to_string(got)} + ", the model expects " +
                                  std::string{to_string(want)});
      } else if (report.problems.size() == 20) {
        report.problems.emplace_back("(more answers disagree with the model)");
      }
    }
    report.checks.push_back("answers: " + std::to_string(agreed) + " of " +
                            std::to_string(t.events.size()) + " as the model expects");
  }

  // 2. In settlement's database, from the acknowledged answers streamed into temporary tables:
  // every acknowledged payment present, each of its inputs spent by it and by no other
  // acknowledged payment, and every wallet's and merchant's unspent tokens summing to the
  // model's balance (acknowledged top-ups in, acknowledged payments out and to the merchant).
  auto checked = pg::guarded([&]() -> status {
    pqxx::connection conn(w.settle_db());
    pqxx::work x(conn);
    x.exec("CREATE TEMP TABLE acked (tx_id bytea, unused text) ON COMMIT DROP");
    x.exec("CREATE TEMP TABLE acked_input (token_id bytea, tx_hex text) ON COMMIT DROP");
    x.exec("CREATE TEMP TABLE expect_balance (owner_key bytea, amount text) ON COMMIT DROP");
    chunked_rows acked(x, "acked");
    chunked_rows acked_inputs(x, "acked_input");
    std::vector<std::int64_t> wallet_balance(d.wallet_count(), 0);
    std::vector<std::int64_t> merchant_balance(d.merchant_count(), 0);
    for (std::size_t i = 0; i < t.events.size(); ++i) {
      const auto& e = t.events[i];
      const auto& o = r.outcomes[i];
      if (o.status != status_code::ok) {
        continue;
      }
      auto& payer = wallet_balance[d.slot_of(e.wallet)];
      if (e.kind == event_kind::topup) {
        payer += e.amount_minor;
        continue;
      }
      payer -= e.amount_minor;
      merchant_balance[d.merchant_slot_of(e.merchant)] += e.amount_minor;
      const auto* paid = d.paid_inputs(static_cast<std::uint32_t>(i));
      CBDC_ASSERT(paid != nullptr);
      const auto tx_hex = o.tx_id.hex();
      acked.add(tx_hex, {});
      for (const auto& in : *paid) {
        acked_inputs.add(in.hex(), tx_hex);
      }
    }
    acked.flush();
    acked_inputs.flush();
    chunked_rows balances(x, "expect_balance");
    for (std::size_t s = 0; s < wallet_balance.size(); ++s) {
      balances.add(d.wallet_key_at(s).hex(), std::to_string(wallet_balance[s]));
    }
    for (std::size_t s = 0; s < merchant_balance.size(); ++s) {
      balances.add(d.merchant_key_at(s).hex(), std::to_string(merchant_balance[s]));
    }
    balances.flush();
    const auto count = [&x](const char* query) {
      return static_cast<std::size_t>(x.exec1(query)[0].as<std::int64_t>());
    };
    const auto twice = count("SELECT count(*) - count(DISTINCT token_id) FROM acked_input");
    const auto missing = count(
        "SELECT count(*) FROM acked a WHERE NOT EXISTS (SELECT 1 FROM settlement.tx t WHERE "
        "t.tx_id = a.tx_id)");
    const auto wrong = count(
        "SELECT count(*) FROM acked_input a LEFT JOIN settlement.spent s ON s.token_id = "
        "a.token_id WHERE s.spent_by IS DISTINCT FROM decode(a.tx_hex, 'hex')");
    const auto off = count(
        "SELECT count(*) FROM expect_balance e LEFT JOIN (SELECT owner_key, sum(amount_minor) AS "
        "held FROM settlement.token t WHERE NOT EXISTS (SELECT 1 FROM settlement.spent s WHERE "
        "s.token_id = t.token_id) GROUP BY owner_key) u USING (owner_key) WHERE "
        "coalesce(u.held, 0) <> e.amount::bigint");
    if (twice > 0) {
      report.problems.push_back(std::to_string(twice) +
                                " token(s) spent by two acknowledged payments");
    }
    if (missing > 0) {
      report.problems.push_back(std::to_string(missing) +
                                " acknowledged payment(s) missing from settlement");
    }
    if (wrong > 0) {
      report.problems.push_back(std::to_string(wrong) +
                                " input(s) of acknowledged payments not spent by them");
    }
    if (off > 0) {
      report.problems.push_back(std::to_string(off) +
                                " wallet(s) whose unspent tokens differ from the model");
    }
    report.checks.push_back(
        "acknowledged payments in settlement: " + std::to_string(acked.count() - missing) + " of " +
        std::to_string(acked.count()));
    report.checks.push_back(
        "inputs spent by their own payment, once: " + std::to_string(acked_inputs.count() - wrong) +
        " of " + std::to_string(acked_inputs.count()));
    report.checks.push_back(
        "balances as the model has them: " + std::to_string(balances.count() - off) + " of " +
        std::to_string(balances.count()) + " wallets and merchants");
    return ok_status();
  });
  if (!checked) {
    report.problems.push_back("cannot read settlement's database: " + to_string(checked.err()));
  }
  // 4. Issued - redeemed == unspent supply, and the reserves balance (the issuer's own audit).
  auto issuer = w.issuer_audit(0);
  report.issuer_audit = issuer.out;
  while (!report.issuer_audit.empty() && report.issuer_audit.back() == '\n') {
    report.issuer_audit.pop_back();
  }
  if (issuer.exit_code != 0) {
    report.problems.push_back("cbdc-issuer audit failed: " + report.issuer_audit);
  } else {
    report.checks.push_back("issuer: " + report.issuer_audit);
  }
  // 5. Each bank against settlement: balances, caps, day totals (cbdc-bank audit). A bank's
  // index follows notifications a moment behind settlement: asked again for a few seconds.
  for (std::size_t b = 0; b < sc.banks.size(); ++b) {
    auto bank = w.bank_audit(b);
    for (int again = 0; again < 10 && bank.exit_code != 0; ++again) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      bank = w.bank_audit(b);
    }
    auto text = bank.out.empty() ? bank.err : bank.out;
    while (!text.empty() && text.back() == '\n') {
      text.pop_back();
    }
    report.bank_audits.push_back(text);
    if (bank.exit_code != 0) {
      report.problems.push_back("cbdc-bank audit of " + sc.banks[b].id + " failed: " + text);
    } else {
      report.checks.push_back("bank " + sc.banks[b].id + ": " + text);
    }
  }
}

}  // namespace cbdc::sim
