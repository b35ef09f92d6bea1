// `cbdc-bank audit`: one bank's index, caps, day totals and intents checked against settlement.
#include "bank/audit.hpp"

#include <map>
#include <pqxx/pqxx>
#include <unordered_map>

#include "platform/pg.hpp"
#include "rpc/wire.hpp"

namespace cbdc::bank {
namespace {

constexpr std::size_t k_max_problems = 50;

struct audited_wallet {
  std::string wallet_id;
  public_key owner;
  wallet_class cls{wallet_class::iv};
  std::optional<std::int64_t> sub_cap_minor;
  std::int64_t indexed_minor{0};  ///< the bank's index: unspent tokens
};

struct recorded_payment {
  std::string wallet_id;
  std::int64_t day{0};
  std::int64_t amount_minor{0};
};

void problem(audit_report& r, std::string what) {
  if (r.problems.size() < k_max_problems) {
    r.problems.push_back(std::move(what));
  }
  ++r.problem_count;
}

auto fmt(std::int64_t minor, currency cur) -> std::string {
  return money{minor, cur}.format();
}

}  // namespace

auto audit(const std::string& db_url, const public_key& vault, const limits_config& limits,
           settlement::interface& settle) -> result<audit_report> {
  audit_report report;
  std::vector<audited_wallet> wallets;
  std::unordered_map<std::string, std::size_t> by_key;     // raw owner key -> wallets
  std::unordered_map<std::string, std::size_t> by_id;      // wallet id -> wallets
  std::unordered_map<std::string, recorded_payment> paid;  // raw tx id -> record
  std::int64_t in_flight = 0;
  auto read = pg::guarded([&]() -> status {
    pqxx::connection conn(db_url);
    pqxx::read_transaction tx(conn);
    for (const auto& row : tx.exec("SELECT wallet_id, encode(owner_key, 'hex'), class, "
                                   "sub_cap_minor FROM bank.wallet ORDER BY wallet_id")) {
      auto owner = public_key::from_hex(row[1].as<std::string>());
      if (!owner) {
        return owner.err();
      }
      audited_wallet w{row[0].as<std::string>(), *owner,
                       static_cast<wallet_class>(row[2].as<int>()), std::nullopt, 0};
      if (!row[3].is_null()) {
        w.sub_cap_minor = row[3].as<std::int64_t>();
      }
      const auto raw = owner->encode();
      by_key.emplace(std::string(raw.begin(), raw.end()), wallets.size());
      by_id.emplace(w.wallet_id, wallets.size());
      wallets.push_back(std::move(w));
    }
    for (const auto& row : tx.exec("SELECT wallet_id, sum(amount_minor)::bigint FROM "
                                   "bank.token_index WHERE spent_by IS NULL GROUP BY wallet_id")) {
      if (const auto it = by_id.find(row[0].as<std::string>()); it != by_id.end()) {
        wallets[it->second].indexed_minor = row[1].as<std::int64_t>();
      }
    }
    for (const auto& row : tx.exec("SELECT encode(tx_id, 'hex'), wallet_id, local_day, "
                                   "amount_minor FROM bank.payment")) {
      auto id = hash256::from_hex(row[0].as<std::string>());
      if (!id) {
        return id.err();
      }
      paid.emplace(std::string(id->data.begin(), id->data.end()),
                   recorded_payment{row[1].as<std::string>(), row[2].as<std::int64_t>(),
                                    row[3].as<std::int64_t>()});
    }
    report.indexed = tx.exec1("SELECT EXISTS (SELECT 1 FROM bank.follow)")[0].as<bool>();
    in_flight = tx.exec1("SELECT count(*) FROM bank.intent")[0].as<std::int64_t>();
    return ok_status();
  });
  if (!read) {
    return read.err();
  }
  report.wallets = wallets.size();
  report.recorded_payments = paid.size();
  const auto cur = limits.cur;
  if (in_flight > 0) {
    problem(report, std::to_string(in_flight) + " payments still in flight (bank.intent)");
  }

  // Balances: settlement's against the index, and against each wallet's cap.
  std::vector<public_key> owners;
  owners.reserve(wallets.size());
  for (const auto& w : wallets) {
    owners.push_back(w.owner);
  }
  auto held = settle.balances(owners, cur);
  if (!held) {
    return held.err();
  }
  for (std::size_t i = 0; i < wallets.size(); ++i) {
    const auto& w = wallets[i];
    const auto real = (*held)[i];
    report.balances_minor = saturating_add(report.balances_minor, real);
    if (report.indexed && w.indexed_minor != real) {
      problem(report, "wallet " + w.wallet_id + ": the index holds " + fmt(w.indexed_minor, cur) +
                          ", settlement " + fmt(real, cur));
    }
    const auto by_class = limits.by_class.find(w.cls);
    auto cap = by_class == limits.by_class.end() ? std::nullopt : by_class->second.balance_minor;
    if (w.sub_cap_minor && (!cap || *w.sub_cap_minor < *cap)) {
      cap = w.sub_cap_minor;
    }
    if (cap && real > *cap) {
      problem(report, "wallet " + w.wallet_id + " (class " + std::string{class_name(w.cls)} +
                          ") holds " + fmt(real, cur) + ", over its cap of " + fmt(*cap, cur));
    }
  }

  // Payments: every settled payment signed by one hosted wallet that pays someone else (not
  // the vault: an exchange to deposit is no payment), from every shard's whole history.
  std::unordered_map<std::string, std::pair<std::size_t, std::int64_t>> settled;
  const auto vault_bytes = vault.encode();
  const std::string raw_vault(vault_bytes.begin(), vault_bytes.end());
  for (std::uint32_t shard = 0; shard < settle.shard_count(); ++shard) {
    std::uint64_t after = 0;
    for (;;) {
      auto page = settle.settled_since(shard, after);
      if (!page) {
        return page.err();
      }
      for (const auto& t : page->txs) {
        if (t.kind() != static_cast<std::uint32_t>(tx_kind::transfer) || t.signers_size() != 1) {
          continue;
        }
        const auto payer = by_key.find(t.signers(0));
        if (payer == by_key.end()) {
          continue;
        }
        std::int64_t amount = 0;
        bool to_vault = false;
        for (const auto& out : t.outputs()) {
          if (out.owner() == t.signers(0) || out.currency() != static_cast<std::uint32_t>(cur)) {
            continue;
          }
          to_vault = to_vault || out.owner() == raw_vault;
          amount = saturating_add(amount, out.amount_minor());
        }
        if (amount > 0 && !to_vault) {
          settled.emplace(t.tx_id(), std::make_pair(payer->second, amount));
        }
      }
      if (!page->more || page->through_batch_seq <= after) {
        break;
      }
      after = page->through_batch_seq;
    }
  }
  report.settled_payments = settled.size();
  const auto short_id = [](const std::string& raw) {
    return to_hex(byte_view{reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size()})
        .substr(0, 16);
  };
  std::map<std::pair<std::string, std::int64_t>, std::int64_t> days;  // (wallet, day) -> total
  for (const auto& [id, r] : paid) {
    report.recorded_minor = saturating_add(report.recorded_minor, r.amount_minor);
    auto& day = days[{r.wallet_id, r.day}];
    day = saturating_add(day, r.amount_minor);
    const auto s = settled.find(id);
    if (s == settled.end()) {
      problem(report, "payment " + short_id(id) + " of wallet " + r.wallet_id +
                          " is recorded but settlement holds no such payment");
    } else if (s->second.second != r.amount_minor ||
               wallets[s->second.first].wallet_id != r.wallet_id) {
      problem(report, "payment " + short_id(id) + " is recorded as " + fmt(r.amount_minor, cur) +
                          " by " + r.wallet_id + ", settled as " + fmt(s->second.second, cur) +
                          " by " + wallets[s->second.first].wallet_id);
    }
  }
  for (const auto& [id, s] : settled) {
    if (!paid.contains(id)) {
      problem(report, "payment " + short_id(id) + " of wallet " + wallets[s.first].wallet_id +
                          " (" + fmt(s.second, cur) +
                          ") settled but is not in its day total (bank.payment)");
    }
  }
  for (const auto& [key, total] : days) {
    const auto hosted = by_id.find(key.first);
    if (hosted == by_id.end()) {
      problem(report, "payments are recorded for " + key.first + ", a wallet not hosted here");
      continue;
    }
    const auto& w = wallets[hosted->second];
    const auto by_class = limits.by_class.find(w.cls);
    const auto cap =
        by_class == limits.by_class.end() ? std::nullopt : by_class->second.per_day_minor;
    if (cap && total > *cap) {
      problem(report, "wallet " + w.wallet_id + " paid " + fmt(total, cur) + " on day " +
                          std::to_string(key.second) + ", over its daily cap of " + fmt(*cap, cur));
    }
  }
  return report;
}

}  // namespace cbdc::bank
