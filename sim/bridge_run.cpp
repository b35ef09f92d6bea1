// A bridge scenario run: its world started, issuance, the plan driven through the services one
// transaction at a time as the pilot's banks did, and the audit of every answer and balance
// against the model and the services; the report is bridge_report.cpp.
#include <chrono>
#include <map>

#include "fx/client.hpp"
#include "settlement/client.hpp"
#include "sim/bridge.hpp"
#include "sim/bridge_detail.hpp"
#include "sim/world.hpp"

namespace cbdc::sim::bridge {
namespace {

using clock = std::chrono::steady_clock;

auto us_since(clock::time_point t) -> std::int64_t {
  return std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - t).count();
}

/// The bridge's world: its shards and coordinator, a central bank per currency, a cbdc-fx per
/// dealer; the other banks played by the simulator. Each bank is issued its plan's issuance.
auto world_spec_of(const scenario& sc, const plan& p) -> world_spec {
  world_spec spec;
  spec.shards = sc.shards;
  for (const auto& cb : sc.central_banks) {
    spec.central_banks.push_back({cb.cur, cb.corridor_cap_minor, cb.bank_cap_minor});
  }
  spec.banks = sc.banks;
  for (const auto& [slot, amount] : p.issuance) {
    spec.banks.at(slot.first).issuance[slot.second] += amount;
  }
  spec.rates = sc.mid_texts;
  return spec;
}

/// What the driver leaves the auditor: each planned transaction's outcome, the model's balances
/// after the settled ones, and how many quotes differed from the model's dealer or amounts.
struct driven {
  std::vector<outcome> outcomes;
  std::map<std::pair<std::uint32_t, currency>, std::int64_t> model;
  std::uint32_t mismatched{0};
};

/// The driver: the plan, one transaction at a time, as the pilot's banks did. A request for
/// quote to every dealer, the best taken, the PvP built and signed by the payer, executed by
/// the dealer.
auto drive(const scenario& sc, const plan& p, world& w, settlement::client& settle,
           std::vector<std::vector<fx::interface*>>& dealers) -> driven {
  driven d;
  auto& model = d.model;
  for (const auto& [slot, amount] : p.issuance) {
    model[slot] += amount;
  }
  for (const auto& t : p.txs) {
    outcome o;
    const auto t0 = clock::now();
    const auto& payer = w.bank_key(t.payer);
    auto best = fx::request_best_quote(dealers[t.payer], sc.banks[t.payer].id, t.pay, t.receive,
                                       t.amount_minor, t.fixed_pay);
    result<settlement::receipt> receipt = error{status_code::internal, "not sent"};
    if (best) {
      const auto& q = best->q;
      o.dealer_id = q.dealer_id;
      o.pay_minor = q.pay.minor();
      o.receive_minor = q.receive.minor();
      o.mid_pay_minor = q.mid_pay_minor;
      if (q.dealer_id != sc.banks[t.dealer].id || q.pay.minor() != t.expect.pay_minor ||
          q.receive.minor() != t.expect.receive_minor) {
        ++d.mismatched;
      }
      auto unspent = settle.list_unspent(payer.pub());
      auto tx = unspent ? fx::build_pvp(q, payer, *unspent, w.bank_key(t.payee).pub(), t.seq + 1)
                        : result<signed_tx>{unspent.err()};
      if (tx) {
        o.tx_id = tx->id;
        o.cross_shard = shards_of(tx->tx, tx->id, settle.shard_count()).size() > 1;
        receipt = best->dealer->execute(q.quote_id, *tx);
      } else {
        receipt = tx.err();
      }
    } else {
      receipt = best.err();
    }
    o.latency_us = us_since(t0);
    if (receipt) {
      model[{t.payer, t.pay}] -= o.pay_minor;
      std::uint32_t dealer_index = 0;
      while (sc.banks[dealer_index].id != o.dealer_id) {
        ++dealer_index;
      }
      model[{dealer_index, t.pay}] += o.pay_minor;
      model[{dealer_index, t.receive}] -= o.receive_minor;
      model[{t.payee, t.receive}] += o.receive_minor;
    } else {
      o.status = receipt.code();
      o.detail = receipt.err().message;
    }
    d.outcomes.push_back(o);
  }
  return d;
}

/// The auditor: every acknowledged transaction in settlement, every quote the model's, every
/// bank's balance in every currency the model's, the sweep done, supply whole, and each
/// central bank's own audit.
void audit(const scenario& sc, world& w, settlement::client& settle, const driven& d,
           const std::map<currency, std::int64_t>& issued_by_cur, std::vector<std::string>& checks,
           std::vector<std::string>& problems) {
  std::uint32_t settled = 0;
  std::uint32_t missing = 0;
  for (const auto& o : d.outcomes) {
    if (o.status == status_code::ok) {
      ++settled;
      if (auto found = settle.get_tx(o.tx_id); !found) {
        ++missing;
      }
    }
  }
  if (missing > 0) {
    problems.push_back(std::to_string(missing) + " acknowledged transactions not in settlement");
  } else {
    checks.push_back("all " + std::to_string(settled) + " acknowledged transactions in settlement");
  }
  if (d.mismatched > 0) {
    problems.push_back(std::to_string(d.mismatched) +
                       " quotes differ from the model's dealer or amounts");
  } else {
    checks.push_back("every quote came from the model's dealer with the model's amounts");
  }
  std::uint32_t wrong_balances = 0;
  for (std::uint32_t b = 0; b < sc.banks.size(); ++b) {
    auto unspent = settle.list_unspent(w.bank_key(b).pub());
    std::map<currency, std::int64_t> held;
    for (const auto& tok : unspent ? *unspent : std::vector<settlement::token_info>{}) {
      held[tok.cur] += tok.amount_minor;
    }
    for (const auto& cb : sc.central_banks) {
      const auto it = d.model.find({b, cb.cur});
      const auto want = it == d.model.end() ? 0 : it->second;
      if (!unspent || held[cb.cur] != want) {
        ++wrong_balances;
        problems.push_back(sc.banks[b].id + " holds " + grouped(money{held[cb.cur], cb.cur}) +
                           ", the model " + grouped(money{want, cb.cur}));
      }
    }
  }
  if (wrong_balances == 0) {
    checks.push_back("every bank's balance in every currency matches the model");
  }
  if (sc.sweep_daily) {
    std::uint32_t foreign_left = 0;
    for (std::uint32_t b = 0; b < sc.banks.size(); ++b) {
      for (const auto& cb : sc.central_banks) {
        const auto it = d.model.find({b, cb.cur});
        if (!sc.banks[b].dealer && cb.cur != sc.banks[b].home && it != d.model.end() &&
            it->second != 0) {
          ++foreign_left;
        }
      }
    }
    if (foreign_left > 0) {
      problems.push_back(std::to_string(foreign_left) +
                         " foreign balances left after the end-of-day sweep");
    } else {
      checks.push_back("after the last end-of-day sweep every bank holds only its home currency");
    }
  }
  for (std::size_t c = 0; c < sc.central_banks.size(); ++c) {
    const auto cur = sc.central_banks[c].cur;
    const auto minted = issued_by_cur.find(cur);
    auto supply = settle.supply(cur);
    if (!supply || supply->issued_minor - supply->redeemed_minor != supply->unspent_minor ||
        supply->issued_minor != (minted == issued_by_cur.end() ? 0 : minted->second)) {
      problems.push_back(code(cur) + ": issued - redeemed != unspent, or issued != minted");
    } else {
      checks.push_back(code(cur) + ": issued " + grouped(money{supply->issued_minor, cur}) +
                       " - redeemed == unspent");
    }
    auto audit = w.issuer_audit(c);
    if (audit.exit_code != 0) {
      problems.push_back("cbdc-issuer audit " + code(cur) + " failed: " + audit.out);
    } else {
      checks.push_back("cbdc-issuer audit " + code(cur) + " PASS");
    }
  }
}

}  // namespace

auto run(const scenario& sc, const plan& p, const world_config& config,
         const std::filesystem::path& out_dir) -> int {
  std::filesystem::create_directories(out_dir);
  const auto setup_start = clock::now();
  auto w = world::start(world_spec_of(sc, p), config);
  const auto fail = [](const error& e) {
    std::fprintf(stderr, "cbdc-sim: %s\n", to_string(e).c_str());
    return 1;
  };
  if (!w) {
    return fail(w.err());
  }
  auto auditor = (*w)->as_node(world::k_auditor);
  if (!auditor) {
    return fail(auditor.err());
  }
  settlement::client settle(*settlement::cluster::parse((*w)->settle_spec()), *auditor);
  // Every dealer, as each paying bank asks them (a quote is for the bank that asks).
  std::vector<std::vector<std::unique_ptr<fx::client>>> dealer_clients(sc.banks.size());
  std::vector<std::vector<fx::interface*>> dealers(sc.banks.size());
  for (std::uint32_t b = 0; b < sc.banks.size(); ++b) {
    auto as_bank = (*w)->as_node(sc.banks[b].id);
    if (!as_bank) {
      return fail(as_bank.err());
    }
    for (const auto& ep : (*w)->dealer_endpoints()) {
      dealers[b].push_back(
          dealer_clients[b].emplace_back(std::make_unique<fx::client>(ep, *as_bank)).get());
    }
  }
  std::vector<std::string> problems;
  std::vector<std::string> checks;
  std::int64_t issued_usd = 0;
  std::map<currency, std::int64_t> issued_by_cur;
  for (const auto& [slot, amount] : p.issuance) {
    issued_usd += usd_cents(sc, slot.second, amount);
    issued_by_cur[slot.second] += amount;
  }
  const auto setup_us = us_since(setup_start);

  const auto replay_start = clock::now();
  auto d = drive(sc, p, **w, settle, dealers);
  const auto replay_us = us_since(replay_start);
  audit(sc, **w, settle, d, issued_by_cur, checks, problems);
  return report(sc, p,
                run_record{std::move(d.outcomes), std::move(checks), std::move(problems),
                           issued_usd, setup_us, replay_us},
                out_dir);
}

}  // namespace cbdc::sim::bridge
