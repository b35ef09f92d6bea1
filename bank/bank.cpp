// The bank: its hosted wallets and their classes, a wallet's payment from the checks of its
// limits to settlement's answer (reservations, durable intents, day totals), and the bank's
// state read back at open, with the payments a crash left in flight. The token index is in
// index.cpp, the vault's funding and exchange in funding.cpp.
#include "bank/bank.hpp"

#include <algorithm>
#include <limits>
#include <pqxx/pqxx>

#include "core/clock.hpp"

#include "bank/detail.hpp"
#include "payment/build.hpp"

namespace cbdc::bank {
using namespace detail;
namespace {

auto wallet_id_of(const public_key& owner) -> std::string {
  return "w" + hash(owner.prof, owner.encode()).hex().substr(0, 16);
}

auto kind_name(wallet_kind k) -> std::string {
  return k == wallet_kind::merchant ? "merchant" : "personal";
}

constexpr const char* k_record_payments = "bank_record_payments";
constexpr const char* k_forget_intents = "bank_forget_intents";
constexpr const char* k_write_intents = "bank_write_intents";

}  // namespace

bank::bank(bank_config config, key_pair vault, std::unique_ptr<pqxx::connection> conn,
           const settlement::cluster& where)
    : m_config(std::move(config)),
      m_vault(std::move(vault)),
      m_conn(std::move(conn)),
      m_settle(where, m_config.net) {}

auto bank::open(bank_config config, key_pair vault) -> result<std::unique_ptr<bank>> {
  auto where = settlement::cluster::parse(config.settle_spec);
  if (!where) {
    return where.err();
  }
  auto conn = pg::connect_migrated(config.db_url, "bank", migrations());
  if (!conn) {
    return conn.err();
  }
  std::unique_ptr<bank> b(new bank(std::move(config), std::move(vault), std::move(*conn), *where));
  if (auto loaded = b->load(); !loaded) {
    return loaded.err();
  }
  return b;
}

auto bank::load() -> status {
  return pg::guarded([&]() -> status {
    // The two statements of the payment path, planned once: the generic plan looks each row up
    // by its key, whatever the length of the arrays. It is planned while the bank's tables are
    // small (empty, for a new bank), when scanning a whole table looks cheapest, and kept as
    // they grow: the index statement's spent-token update scanned all of bank.token_index on
    // every call (at national scale, half a million rows per bank, many times a second). With
    // sequential scans priced out, a plan scans a table only where no index serves.
    m_conn->set_variable("plan_cache_mode", "force_generic_plan");
    m_conn->set_variable("enable_seqscan", "off");
    m_conn->prepare(k_record_payments,
                    "INSERT INTO bank.payment (tx_id, wallet_id, local_day, amount_minor) "
                    "SELECT decode(r.t, 'hex'), r.w, r.d, r.a FROM unnest($1::text[], $2::text[], "
                    "$3::int[], $4::bigint[]) AS r(t, w, d, a) ON CONFLICT (tx_id) DO NOTHING "
                    "RETURNING encode(tx_id, 'hex')");
    // A recorded payment's intent, and those of payments finished without a record, removed in
    // the same transaction.
    m_conn->prepare(k_forget_intents, "DELETE FROM bank.intent WHERE tx_id = ANY($1::bytea[])");
    m_conn->prepare(k_write_intents,
                    "INSERT INTO bank.intent (tx_id, wallet_id, local_day, amount_minor, "
                    "signed_tx) SELECT * FROM unnest($1::bytea[], $2::text[], $3::int8[], "
                    "$4::int8[], $5::bytea[]) ON CONFLICT (tx_id) DO NOTHING");
    // The outputs to hosted wallets and the spent inputs in one statement, without waiting for
    // the disk at commit: the index is derived data that reconcile() rebuilds from settlement
    // after a crash (the WAL flush is shared by every service on the cluster, and each settled
    // transaction reaches every bank).
    m_conn->prepare(
        k_index_settled,
        "WITH fast AS (SELECT set_config('synchronous_commit', 'off', true)), "
        "ins AS (INSERT INTO bank.token_index (token_id, wallet_id, amount_minor, created_by, "
        " spent_by, spent_at) "
        " SELECT decode(o.t, 'hex'), w.wallet_id, o.a, decode(o.c, 'hex'), "
        " decode(NULLIF(o.s, ''), 'hex'), CASE WHEN o.s <> '' THEN now() END "
        " FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $7::text[]) "
        " AS o(t, k, a, c, s) "
        " JOIN bank.wallet w ON w.owner_key = decode(o.k, 'hex') "
        " ON CONFLICT (token_id) DO NOTHING), "
        "upd AS (UPDATE bank.token_index i SET spent_by = decode(s.b, 'hex'), spent_at = now() "
        " FROM unnest($5::text[], $6::text[]) AS s(t, b) "
        " WHERE i.token_id = decode(s.t, 'hex') AND i.spent_by IS NULL) "
        "SELECT * FROM fast");
    pqxx::read_transaction tx(*m_conn);
    for (const auto& row : tx.exec("SELECT encode(owner_key, 'hex'), kind, class, parent_id, "
                                   "sub_cap_minor FROM bank.wallet")) {
      auto owner = public_key::from_hex(row[0].as<std::string>());
      CBDC_ASSERT(owner.ok());
      hosted_wallet w;
      w.kind =
          row[1].as<std::string>() == "merchant" ? wallet_kind::merchant : wallet_kind::personal;
      const auto cls = row[2].as<int>();
      CBDC_ASSERT(cls >= 1 && cls <= 4);
      w.cls = static_cast<wallet_class>(cls);
      if (!row[3].is_null()) {
        w.parent_id = row[3].as<std::string>();
      }
      if (!row[4].is_null()) {
        w.sub_cap_minor = row[4].as<std::int64_t>();
      }
      m_wallets.emplace(key_bytes(*owner), std::move(w));
    }
    // Each wallet's latest day with payments, from yesterday on (payments are dated by this
    // bank's clock); an earlier day is asked of the database (spent_on_day).
    m_loaded_from_day = local_day(unix_now_us(), m_config.utc_offset_minutes) - 1;
    for (const auto& row : tx.exec_params(
             "SELECT DISTINCT ON (p.wallet_id) encode(w.owner_key, 'hex'), p.local_day, "
             "sum(p.amount_minor)::bigint FROM bank.payment p JOIN bank.wallet w USING "
             "(wallet_id) WHERE p.local_day >= $1 GROUP BY p.wallet_id, w.owner_key, p.local_day "
             "ORDER BY p.wallet_id, p.local_day DESC",
             m_loaded_from_day)) {
      auto owner = public_key::from_hex(row[0].as<std::string>());
      CBDC_ASSERT(owner.ok());
      auto& w = m_wallets.at(key_bytes(*owner));
      w.day = row[1].as<std::int64_t>();
      w.day_minor = row[2].as<std::int64_t>();
    }
    // The index's unspent tokens, and so every wallet's balance.
    for (const auto& row :
         tx.exec("SELECT encode(i.token_id, 'hex'), encode(w.owner_key, 'hex'), i.amount_minor, "
                 "encode(i.created_by, 'hex') FROM bank.token_index i JOIN bank.wallet w USING "
                 "(wallet_id) WHERE i.spent_by IS NULL")) {
      auto token = hash256::from_hex(row[0].as<std::string>());
      auto owner = public_key::from_hex(row[1].as<std::string>());
      auto created_by = hash256::from_hex(row[3].as<std::string>());
      CBDC_ASSERT(token.ok() && owner.ok() && created_by.ok());
      token_live(raw_of(*token), m_wallets.at(key_bytes(*owner)), row[2].as<std::int64_t>(),
                 *created_by);
    }
    for (const auto& row : tx.exec("SELECT shard, batch_seq FROM bank.follow")) {
      m_followed[row[0].as<std::uint32_t>()] = row[1].as<std::uint64_t>();
    }
    // Payments a crash left in flight: held against their payers' days (and payees here) until
    // settlement answers them again.
    for (const auto& row : tx.exec("SELECT encode(signed_tx, 'hex'), wallet_id, local_day, "
                                   "amount_minor FROM bank.intent ORDER BY written_at")) {
      pending_payment p;
      p.tx = tx_from_record(row[0].as<std::string>());
      p.wallet_id = row[1].as<std::string>();
      p.day = row[2].as<std::int64_t>();
      p.amount_minor = row[3].as<std::int64_t>();
      auto parts = parts_of(p.tx);
      CBDC_ASSERT(parts.ok() && parts->amount_minor == p.amount_minor);
      p.payee = parts->payee;
      if (m_wallets.contains(key_bytes(p.payee))) {
        p.payee_hex = p.payee.hex();
      }
      if (m_pending_tx.contains(p.tx.id)) {
        continue;
      }
      const auto held = reserve(p);
      CBDC_ASSERT(held.ok());
      p.durable = true;
      m_recovered.push_back(std::move(p));
    }
    return ok_status();
  });
}

auto bank::record_of(const public_key& owner, const hosted_wallet& w) const -> wallet_record {
  return wallet_record{wallet_id_of(owner), owner, w.kind, w.cls, w.parent_id, w.sub_cap_minor};
}

auto bank::open_wallet(const public_key& owner, wallet_class cls, wallet_kind kind,
                       std::optional<std::string> parent_id,
                       std::optional<std::int64_t> sub_cap_minor) -> result<wallet_record> {
  if (sub_cap_minor && !parent_id) {
    return error{status_code::bad_request, "only a sub-wallet has a cap of its own"};
  }
  if (sub_cap_minor && *sub_cap_minor < 0) {
    return error{status_code::amount_invalid, "a sub-wallet cap cannot be negative"};
  }
  if (!valid_point(owner)) {
    return error{status_code::malformed, "the wallet key is not a point of its curve"};
  }
  auto key = key_bytes(owner);
  if (m_wallets.contains(key)) {
    return error{status_code::bad_request, "this key already has a wallet here"};
  }
  return pg::guarded([&]() -> result<wallet_record> {
    pqxx::work tx(*m_conn);
    if (parent_id &&
        tx.exec_params("SELECT 1 FROM bank.wallet WHERE wallet_id = $1", *parent_id).empty()) {
      return error{status_code::unknown_wallet, "no parent wallet '" + *parent_id + "'"};
    }
    hosted_wallet w{kind, cls, parent_id, sub_cap_minor};
    auto record = record_of(owner, w);
    // (A new wallet's tokens, if any arrived before it registered, come in by reconcile().)
    tx.exec_params(
        "INSERT INTO bank.wallet (wallet_id, owner_key, kind, class, parent_id, sub_cap_minor) "
        "VALUES ($1, decode($2, 'hex'), $3, $4, NULLIF($5, ''), NULLIF($6, '')::bigint)",
        record.wallet_id, owner.hex(), kind_name(kind), static_cast<int>(cls),
        parent_id.value_or(""), sub_cap_minor ? std::to_string(*sub_cap_minor) : std::string{});
    tx.commit();
    m_wallets.emplace(std::move(key), std::move(w));
    return record;
  });
}

auto bank::open_wallets(const std::vector<std::pair<public_key, wallet_class>>& owners,
                        wallet_kind kind) -> result<std::vector<wallet_record>> {
  std::vector<std::string> keys;
  std::vector<std::string> ids;
  std::vector<std::int64_t> classes;
  std::vector<wallet_record> out;
  std::unordered_map<std::string, wallet_class> asked;  // a key twice in one request: same class
  for (const auto& [owner, cls] : owners) {
    if (!valid_point(owner)) {
      return error{status_code::malformed,
                   "key " + owner.hex().substr(0, 18) + " is not a point of its curve"};
    }
    // A key hosted already must match.
    const auto known = m_wallets.find(key_bytes(owner));
    const auto [again, first] = asked.try_emplace(key_bytes(owner), cls);
    if ((known != m_wallets.end() && (known->second.cls != cls || known->second.kind != kind)) ||
        (!first && again->second != cls)) {
      return error{status_code::bad_request, "key " + owner.hex().substr(0, 18) +
                                                 " has a wallet here of another class or kind"};
    }
    keys.push_back(owner.hex());
    ids.push_back(wallet_id_of(owner));
    classes.push_back(static_cast<std::int64_t>(cls));
    out.push_back(wallet_record{ids.back(), owner, kind, cls, std::nullopt, std::nullopt});
  }
  return pg::guarded([&]() -> result<std::vector<wallet_record>> {
    pqxx::work tx(*m_conn);
    tx.exec_params(
        "INSERT INTO bank.wallet (wallet_id, owner_key, kind, class) SELECT w, decode(k, 'hex'), "
        "$4, c FROM unnest($1::text[], $2::text[], $3::int[]) AS n(w, k, c) "
        "ON CONFLICT DO NOTHING",
        pg::text_array(ids), pg::text_array(keys), pg::int_array(classes), kind_name(kind));
    tx.commit();
    for (const auto& [owner, cls] : owners) {
      m_wallets.try_emplace(key_bytes(owner), hosted_wallet{kind, cls, std::nullopt, std::nullopt});
    }
    return out;
  });
}

auto bank::find_wallet(const public_key& owner) -> result<wallet_record> {
  const auto it = m_wallets.find(key_bytes(owner));
  if (it == m_wallets.end()) {
    return not_hosted(owner);
  }
  return record_of(owner, it->second);
}

auto bank::spent_on_day(const std::string& key, std::int64_t day) -> result<std::int64_t> {
  const auto& w = m_wallets.at(key);
  if (day == w.day) {
    return w.day_minor;
  }
  if (day > w.day && day >= m_loaded_from_day) {
    return std::int64_t{0};
  }
  // An earlier day (the clock went back): the database, and what it has not recorded yet.
  std::int64_t unrecorded = 0;
  for (const auto& r : m_unrecorded) {
    if (r.key == key && r.day == day) {
      unrecorded += r.amount_minor;
    }
  }
  return pg::guarded([&]() -> result<std::int64_t> {
    pqxx::read_transaction tx(*m_conn);
    return unrecorded +
           tx.exec_params1(
                 "SELECT coalesce(sum(p.amount_minor), 0)::bigint FROM bank.payment p JOIN "
                 "bank.wallet w USING (wallet_id) WHERE w.owner_key = $1 AND p.local_day = $2",
                 pg::bytea_param(key.data(), key.size()), day)[0]
               .as<std::int64_t>();
  });
}

void bank::count_payment(const std::string& key, std::int64_t day, std::int64_t amount_minor) {
  auto& w = m_wallets.at(key);
  if (day > w.day) {
    w.day = day;
    w.day_minor = 0;
  }
  if (day == w.day) {
    // An earlier day's payment is in the database only. A day's total can pass 2^63-1 (the
    // same money paid round again): it stays at the top, where every cap refuses.
    w.day_minor = saturating_add(w.day_minor, amount_minor);
  }
}

auto bank::has_balance_cap(const wallet_record& w) const -> bool {
  const auto& caps = m_config.limits.by_class;
  const auto cls_caps = caps.find(w.cls);
  return w.sub_cap_minor.has_value() ||
         (cls_caps != caps.end() && cls_caps->second.balance_minor.has_value());
}

auto bank::receiving_check(const public_key& payee, payment_check& check) -> status {
  auto hosted = find_wallet(payee);
  if (!hosted) {
    // A payee at another bank: its own bank checks what it may receive.
    return hosted.code() == status_code::unknown_wallet ? ok_status() : status{hosted.err()};
  }
  check.payee_class = hosted->cls;
  check.payee_sub_cap_minor = hosted->sub_cap_minor;
  if (!has_balance_cap(*hosted)) {
    return ok_status();  // no cap to check (class I, a merchant say): no need for the balance
  }
  auto held = balance(payee);
  if (!held) {
    return held.err();
  }
  check.payee_balance_minor = *held;
  return ok_status();
}

auto bank::pay(const signed_tx& tx, std::int64_t now_us) -> result<settlement::receipt> {
  auto begun = pay_begin(tx, now_us);
  if (!begun) {
    return begun.err();
  }
  result<settlement::receipt> sent = error{status_code::internal, "not sent"};
  if (begun->settled_before) {
    sent = *begun->settled_before;
  } else if (auto written = begun->reserved ? commit_durable({&*begun}) : ok_status(); !written) {
    sent = written.err();  // not recorded before sending: not sent
  } else {
    begun->durable = begun->reserved;
    sent = settlement::submit_with_retry(m_settle, tx, tx.id.hex());
  }
  auto answer = pay_finish(*begun, std::move(sent));
  if (auto recorded = commit_durable({}); !recorded && answer) {
    return recorded.err();
  }
  return answer;
}

auto bank::parts_of(const signed_tx& tx) -> result<payment_parts> {
  if (tx.tx.kind != tx_kind::transfer || tx.sigs.size() != 1) {
    return error{status_code::bad_request, "a wallet payment is a transfer signed by its payer"};
  }
  const auto& payer_key = tx.sigs.front().signer;
  // The payment is what leaves the payer (change comes back); one payee per payment.
  std::int64_t amount = 0;
  std::optional<public_key> payee;
  for (const auto& out : tx.tx.outputs) {
    if (out.owner == payer_key) {
      continue;
    }
    if (out.cur != m_config.limits.cur) {
      return error{status_code::currency_mismatch,
                   "this bank's wallets pay in " + std::string{currency_code(m_config.limits.cur)}};
    }
    if (payee && !(out.owner == *payee)) {
      return error{status_code::bad_request, "a wallet payment has one payee"};
    }
    payee = out.owner;
    auto sum = checked_add(amount, out.amount_minor);
    if (!sum) {
      return sum.err();
    }
    amount = *sum;
  }
  if (!payee) {
    return error{status_code::bad_request, "the payment pays nobody but its payer"};
  }
  if (!payee_on_curve(*payee)) {
    return error{status_code::malformed,
                 "the payee's key is not a point of its curve: the payment could never be spent"};
  }
  return payment_parts{amount, *payee};
}

auto bank::pay_begin(const signed_tx& tx, std::int64_t now_us) -> result<pending_payment> {
  auto parts = parts_of(tx);
  if (!parts) {
    return parts.err();
  }
  const auto& payer_key = tx.sigs.front().signer;
  auto payer = find_wallet(payer_key);
  if (!payer) {
    return payer.err();
  }
  const auto day = local_day(now_us, m_config.utc_offset_minutes);
  auto spent = spent_on_day(key_bytes(payer_key), day);
  if (!spent) {
    return spent.err();
  }
  pending_payment p;
  p.tx = tx;
  p.wallet_id = payer->wallet_id;
  p.day = day;
  p.amount_minor = parts->amount_minor;
  p.payee = parts->payee;
  if (m_pending_tx.contains(tx.id)) {
    return p;  // the same payment again while the first is in flight: settlement decides
  }
  // A refusal by the limits may be a resend of a payment that settled (and counts in them).
  const auto refused = [&](error why) -> result<pending_payment> {
    if (auto receipt = settled_before(tx.id)) {
      p.settled_before = std::move(receipt);
      return p;
    }
    return why;
  };
  payment_check check;
  check.payer_class = payer->cls;
  check.amount_minor = p.amount_minor;
  const auto out_key = std::make_pair(payer->wallet_id, day);
  check.payer_spent_today_minor =
      saturating_add(*spent, m_pending_out.contains(out_key) ? m_pending_out[out_key] : 0);
  if (auto receiving = receiving_check(p.payee, check); !receiving) {
    return refused(receiving.err());
  }
  if (check.payee_class) {
    p.payee_hex = p.payee.hex();
    check.payee_balance_minor =
        saturating_add(check.payee_balance_minor, m_incoming.held_for(key_bytes(p.payee)));
  }
  if (auto allowed = check_payment(m_config.limits, check); !allowed) {
    return refused(allowed.err());
  }
  if (auto held = reserve(p); !held) {
    return refused(held.err());
  }
  return p;
}

auto bank::reserve(pending_payment& p) -> status {
  // Payments under way may spend the same tokens (all but one will be refused), so their sum
  // is not bounded by the supply: past 2^63-1 the payment is refused rather than wrap.
  const auto out_key = std::make_pair(p.wallet_id, p.day);
  const auto out_before = m_pending_out.contains(out_key) ? m_pending_out[out_key] : 0;
  auto out_after = checked_add(out_before, p.amount_minor);
  if (!out_after) {
    return error{status_code::amount_invalid, "payments under way would pass 2^63-1 minor units"};
  }
  if (p.payee_hex) {
    if (auto held = m_incoming.reserve(p.tx.id, key_bytes(p.payee), p.amount_minor); !held) {
      return held;
    }
  }
  m_pending_out[out_key] = *out_after;
  p.hold = ++m_last_hold;
  m_pending_tx[p.tx.id] = hold{p.hold, p.wallet_id, p.day, p.amount_minor};
  p.reserved = true;
  return ok_status();
}

void bank::release_hold(const signed_tx& tx, const result<settlement::receipt>& answer) {
  const auto it = m_pending_tx.find(tx.id);
  CBDC_ASSERT(it != m_pending_tx.end());
  const auto& h = it->second;
  const auto out_key = std::make_pair(h.wallet_id, h.day);
  CBDC_ASSERT(m_pending_out[out_key] >= h.amount_minor);
  if ((m_pending_out[out_key] -= h.amount_minor) == 0) {
    m_pending_out.erase(out_key);
  }
  settle_incoming(tx, answer);  // a payee here: settled, it counts in its balance at once
  m_pending_tx.erase(it);
}

auto bank::settled_before(const hash256& tx_id) -> std::optional<settlement::receipt> {
  auto found = m_settle.get_tx(tx_id);
  if (!found) {
    return std::nullopt;  // not settled, or settlement cannot say now: the refusal stands
  }
  found->status = status_code::already_settled;
  found->detail = "settled before in batch " + std::to_string(found->batch_seq);
  return std::move(*found);
}

auto bank::take_recovered() -> std::vector<pending_payment> {
  return std::exchange(m_recovered, {});
}

auto bank::payee_on_curve(const public_key& payee) -> bool {
  // A wallet hosted here was checked when it opened; others once each (the check costs as much
  // as a signature's verification, and payees repeat).
  constexpr std::size_t k_remembered = 100'000;
  auto key = key_bytes(payee);
  if (m_wallets.contains(key) || m_valid_payees.contains(key)) {
    return true;
  }
  if (!valid_point(payee)) {
    return false;
  }
  if (m_valid_payees.size() >= k_remembered) {
    m_valid_payees.clear();
  }
  m_valid_payees.insert(std::move(key));
  return true;
}

auto bank::can_receive(const public_key& owner, std::int64_t amount_minor, bool& capped,
                       const std::optional<hash256>& tx_id, std::int64_t now_us) -> status {
  m_incoming.expire(now_us);
  if (amount_minor <= 0) {
    return error{status_code::amount_invalid, "a payment in is a positive amount"};
  }
  auto hosted = find_wallet(owner);
  if (!hosted) {
    return hosted.err();
  }
  capped = has_balance_cap(*hosted);
  if (tx_id && m_incoming.holds(*tx_id, key_bytes(owner))) {
    return ok_status();  // asked again about the same payment: its room is held already
  }
  if (auto room = room_for(owner, amount_minor); !room) {
    return room;
  }
  if (capped && tx_id) {
    return m_incoming.reserve(*tx_id, key_bytes(owner), amount_minor,
                              now_us + k_can_receive_ttl_us);
  }
  return ok_status();
}

auto bank::room_for(const public_key& payee, std::int64_t amount, std::int64_t also) -> status {
  payment_check check;
  check.payer_class = wallet_class::i;  // the payer's caps are its own business
  check.amount_minor = amount;
  if (auto receiving = receiving_check(payee, check); !receiving) {
    return receiving;
  }
  if (!check.payee_class) {
    return not_hosted(payee);
  }
  check.payee_balance_minor = saturating_add(
      saturating_add(check.payee_balance_minor, m_incoming.held_for(key_bytes(payee))), also);
  return check_payment(m_config.limits, check);
}

auto bank::pay_finish(const pending_payment& p, result<settlement::receipt> answer)
    -> result<settlement::receipt> {
  const bool settled = answer && answer->settled();
  if (p.reserved) {
    if (m_released_holds.erase(p.hold) == 0) {
      CBDC_ASSERT(m_pending_tx.at(p.tx.id).id == p.hold);
      release_hold(p.tx, answer);
    }
  } else if (const auto first = m_pending_tx.find(p.tx.id);
             settled && first != m_pending_tx.end()) {
    // A repeat answered as settled while the first send still waits for its answer (which can
    // only say the same): the first's hold ends now, or the payment would count twice, in
    // flight and in the day.
    m_released_holds.insert(first->second.id);
    release_hold(p.tx, answer);
  }
  // A settled payment's intent goes with its record; one whose outcome is not known (settlement
  // did not answer) stays, to be sent again after a restart.
  if (p.durable && !settled && !is_transient(answer ? answer->status : answer.code())) {
    m_intents_done.push_back(p.tx.id);
  }
  if (!answer) {
    return answer;
  }
  // Settled now: it counts for the payer's day at once. Settled before (a retry): it counts
  // when its record turns out to be new (commit_durable), so that nothing counts twice.
  const bool now = answer->status == status_code::ok;
  if (now || answer->status == status_code::already_settled) {
    const auto& payer = p.tx.sigs.front().signer;
    auto key = key_bytes(payer);
    if (now) {
      count_payment(key, p.day, p.amount_minor);
    }
    m_unrecorded.push_back(
        payment_record{p.tx.id, std::move(key), p.wallet_id, p.day, p.amount_minor, now});
  }
  return answer;
}

auto bank::commit_durable(const std::vector<const pending_payment*>& intents) -> status {
  if (intents.empty() && m_unrecorded.empty() && m_intents_done.empty()) {
    return ok_status();
  }
  using el = pg::binary_array::element;
  return pg::guarded([&]() -> status {
    std::vector<std::string> ids;
    std::vector<std::string> wallet_ids;
    std::vector<std::int64_t> days;
    std::vector<std::int64_t> amounts;
    pg::binary_array forget(el::bytea);
    for (const auto& r : m_unrecorded) {
      ids.push_back(r.tx_id.hex());
      wallet_ids.push_back(r.wallet_id);
      days.push_back(r.day);
      amounts.push_back(r.amount_minor);
      forget.add(r.tx_id.data.data(), r.tx_id.data.size());
    }
    for (const auto& id : m_intents_done) {
      forget.add(id.data.data(), id.data.size());
    }
    pg::binary_array intent_ids(el::bytea);
    pg::binary_array intent_wallets(el::text);
    pg::binary_array intent_days(el::int8);
    pg::binary_array intent_amounts(el::int8);
    pg::binary_array intent_txs(el::bytea);
    for (const auto* p : intents) {
      CBDC_ASSERT(p->reserved && !p->durable);
      intent_ids.add(p->tx.id.data.data(), p->tx.id.data.size());
      intent_wallets.add(p->wallet_id);
      intent_days.add_int(p->day);
      intent_amounts.add_int(p->amount_minor);
      intent_txs.add(to_wire(p->tx).SerializeAsString());
    }
    pqxx::work w(*m_conn);
    pqxx::result fresh;
    if (!ids.empty()) {
      fresh = w.exec_prepared(k_record_payments, pg::text_array(ids), pg::text_array(wallet_ids),
                              pg::int_array(days), pg::int_array(amounts));
    }
    if (forget.size() > 0) {
      w.exec_prepared(k_forget_intents, forget.param());
    }
    if (intent_ids.size() > 0) {
      w.exec_prepared(k_write_intents, intent_ids.param(), intent_wallets.param(),
                      intent_days.param(), intent_amounts.param(), intent_txs.param());
    }
    w.commit();
    m_intents_done.clear();
    std::unordered_set<std::string> inserted;
    for (const auto& row : fresh) {
      inserted.insert(row[0].as<std::string>());
    }
    // A new record of a payment settled before counts once (the same payment may be here twice,
    // its first answer and a retry's).
    for (std::size_t i = 0; i < m_unrecorded.size(); ++i) {
      if (m_unrecorded[i].counted) {
        inserted.erase(ids[i]);
      }
    }
    for (std::size_t i = 0; i < m_unrecorded.size(); ++i) {
      const auto& r = m_unrecorded[i];
      if (!r.counted && inserted.erase(ids[i]) > 0) {
        count_payment(r.key, r.day, r.amount_minor);
      }
    }
    m_unrecorded.clear();
    return ok_status();
  });
}

}  // namespace cbdc::bank
