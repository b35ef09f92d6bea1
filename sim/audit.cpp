// The simulator's auditor (sim/audit.hpp): what a replay's answers say, checked against the
// model and against what settlement, the issuer and each bank hold.
#include "sim/audit.hpp"

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <thread>

#include "settlement/ledger.hpp"
#include "sim/model.hpp"

namespace cbdc::sim {
void audit(const trace& t, const scenario& sc, const replay_view& d, world& w, replay_result& r) {
  auto& report = r.audit;
  // 1. Every answer against the model.
  {
    const auto expected = expected_statuses(t, sc);
    std::size_t agreed = 0;
    for (std::size_t i = 0; i < t.events.size(); ++i) {
      const auto got = r.outcomes[i].status;
      if (is_offline(t.events[i].kind)) {
        continue;  // between devices: checked below against the ledger
      }
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
    const auto online = static_cast<std::size_t>(std::count_if(
        t.events.begin(), t.events.end(), [](const event& e) { return !is_offline(e.kind); }));
    report.checks.push_back("answers: " + std::to_string(agreed) + " of " + std::to_string(online) +
                            " as the model expects");
  }

  // 2. Against settlement's ledger (settlement/ledger.hpp): every acknowledged payment present,
  // each of its inputs spent by it and by no other acknowledged payment, and every wallet's and
  // merchant's unspent tokens summing to the model's balance (acknowledged top-ups in,
  // acknowledged payments out and to the merchant).
  auto checked = [&]() -> status {
    auto ledger = settlement::ledger_check::open(w.settle_db());
    if (!ledger) {
      return ledger.err();
    }
    std::vector<std::int64_t> wallet_balance(d.wallet_count(), 0);
    std::vector<std::int64_t> merchant_balance(d.merchant_count(), 0);
    for (std::size_t i = 0; i < t.events.size(); ++i) {
      const auto& e = t.events[i];
      const auto& o = r.outcomes[i];
      if (o.status != status_code::ok || is_offline(e.kind)) {
        continue;
      }
      auto& payer = wallet_balance[d.slot_of(e.wallet)];
      if (e.kind == event_kind::topup) {
        payer += e.amount_minor;
        continue;
      }
      payer -= e.amount_minor;
      if (e.kind == event_kind::payment) {  // a load pays the device: the fleet checks it
        merchant_balance[d.merchant_slot_of(e.merchant)] += e.amount_minor;
      }
      const auto* paid = d.paid_inputs(static_cast<std::uint32_t>(i));
      CBDC_ASSERT(paid != nullptr);
      if (auto added = (*ledger)->acknowledged(o.tx_id, *paid); !added) {
        return added;
      }
    }
    auto* fleet = d.offline();
    if (fleet != nullptr) {  // what came back from devices: unloads, reimbursed losses
      for (const auto& e : t.events) {
        if (e.kind == event_kind::load) {
          wallet_balance[d.slot_of(e.wallet)] += fleet->credited_wallet(e.wallet);
        }
      }
      std::set<std::uint32_t> merchants;
      for (const auto& e : t.events) {
        if (e.merchant != k_no_merchant && merchants.insert(e.merchant).second) {
          merchant_balance[d.merchant_slot_of(e.merchant)] += fleet->credited_merchant(e.merchant);
        }
      }
      fleet->audit(**ledger, report.checks, report.problems);
    }
    for (std::size_t s = 0; s < wallet_balance.size(); ++s) {
      if (auto added = (*ledger)->expect_balance(d.wallet_key_at(s), wallet_balance[s]); !added) {
        return added;
      }
    }
    for (std::size_t s = 0; s < merchant_balance.size(); ++s) {
      if (auto added = (*ledger)->expect_balance(d.merchant_key_at(s), merchant_balance[s]);
          !added) {
        return added;
      }
    }
    auto found = (*ledger)->finish();
    if (!found) {
      return found.err();
    }
    const auto& f = *found;
    if (f.spent_twice > 0) {
      report.problems.push_back(std::to_string(f.spent_twice) +
                                " token(s) spent by two acknowledged payments");
    }
    if (f.missing > 0) {
      report.problems.push_back(std::to_string(f.missing) +
                                " acknowledged payment(s) missing from settlement");
    }
    if (f.not_spent_by_it > 0) {
      report.problems.push_back(std::to_string(f.not_spent_by_it) +
                                " input(s) of acknowledged payments not spent by them");
    }
    if (f.balances_off > 0) {
      report.problems.push_back(std::to_string(f.balances_off) +
                                " wallet(s) whose unspent tokens differ from the model");
    }
    report.checks.push_back(
        "acknowledged payments in settlement: " + std::to_string(f.acknowledged - f.missing) +
        " of " + std::to_string(f.acknowledged));
    report.checks.push_back(
        "inputs spent by their own payment, once: " + std::to_string(f.inputs - f.not_spent_by_it) +
        " of " + std::to_string(f.inputs));
    report.checks.push_back(
        "balances as the model has them: " + std::to_string(f.balances - f.balances_off) + " of " +
        std::to_string(f.balances) + " wallets and merchants");
    return ok_status();
  }();
  if (!checked) {
    report.problems.push_back("cannot read settlement's ledger: " + to_string(checked.err()));
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
