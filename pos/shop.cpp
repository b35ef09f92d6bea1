// The till: signed payment requests as QR codes, payments through its bank, settlement's
// notifications matched to requests, the day's takings.
#include "pos/shop.hpp"

#include <algorithm>

#include <boost/json.hpp>
#include <chrono>
#include <memory>
#include <sstream>

#include "bank/limits.hpp"
#include "core/clock.hpp"
#include "payment/build.hpp"
#include "platform/metrics.hpp"
#include "settlement/notify.hpp"

namespace cbdc::pos {

auto to_json(const till_request& r) -> boost::json::object {
  return boost::json::object{
      {"id", r.id},
      {"uri", r.uri},
      {"amount", r.req.amount.format_amount()},
      {"currency", std::string{currency_code(r.req.amount.cur())}},
      {"reference", r.req.reference},
      {"expires_at_s", r.req.expires_at_s},
      {"state", r.state},
      {"reason", r.reason},
      {"tx_id", r.tx_id},
      {"payer_class", r.payer_class},
      {"created_us", r.created_us},
      {"settled_us", r.settled_us},
      {"settle_ms", r.settled_us > 0 ? (r.settled_us - r.created_us) / 1000 : 0}};
}

shop::shop(shop_config config, key_pair merchant)
    : m_config(std::move(config)), m_merchant(std::move(merchant)) {}

auto shop::start(shop_config config, key_pair merchant) -> result<std::unique_ptr<shop>> {
  auto where = settlement::cluster::parse(config.settle_spec);
  if (!where) {
    return where.err();
  }
  std::unique_ptr<shop> s(new shop(std::move(config), std::move(merchant)));
  socket_options opts = s->m_config.net;
  opts.timeout_ms = s->m_config.rpc_timeout_ms;
  s->m_settle = std::make_unique<settlement::client>(*where, opts);
  s->m_bank = std::make_unique<bank::client>(s->m_config.bank_endpoint, opts);
  if (!s->m_config.settle_pub.empty()) {
    s->m_follower = std::thread([raw = s.get()] { raw->follow_settlement(); });
  }
  s->m_expirer = std::thread([raw = s.get()] { raw->expire_loop(); });
  auto& m = metrics::registry::global();
  m.describe("cbdc_pos_requests_total", metrics::kind::counter,
             "Payment requests of the till, by what became of them");
  return s;
}

shop::~shop() {
  m_stopping = true;
  if (m_follower.joinable()) {
    m_follower.join();
  }
  if (m_expirer.joinable()) {
    m_expirer.join();
  }
}

auto shop::create(const std::string& amount, const std::string& reference) -> result<till_request> {
  auto parsed = parse_amount(amount, m_config.cur);
  if (!parsed) {
    return parsed.err();
  }
  std::lock_guard lock(m_mutex);
  // A bound on the requests kept open: each is memory until it is paid or expires.
  constexpr std::size_t k_max_open = 10'000;
  const auto open = std::count_if(m_requests.begin(), m_requests.end(),
                                  [](const auto& entry) { return entry.second.state == "open"; });
  if (static_cast<std::size_t>(open) >= k_max_open) {
    return error{status_code::overloaded, "10,000 payment requests are open; retry later"};
  }
  const auto id = m_next_id++;
  // The till's number makes every reference unique: it is the payment's memo, by which the
  // settled payment is matched to its request.
  // At most 48 bytes of the merchant's reference, cut at a character's start: a cut inside a
  // UTF-8 sequence made a memo that is not text (settlement refuses it; JSON cannot hold it).
  std::size_t cut = std::min<std::size_t>(reference.size(), 48);
  while (cut > 0 && cut < reference.size() &&
         (static_cast<unsigned char>(reference[cut]) & 0xC0U) == 0x80U) {
    --cut;
  }
  const auto ref = reference.empty() ? "#" + std::to_string(id)
                                     : reference.substr(0, cut) + " #" + std::to_string(id);
  const auto now_us = unix_now_us();
  auto req =
      wallet::make_request(m_merchant, *parsed, ref, now_us / 1'000'000 + m_config.request_ttl_s);
  if (!req) {
    return req.err();
  }
  till_request r;
  r.id = id;
  r.req = *req;
  r.uri = req->to_uri();
  r.created_us = now_us;
  m_requests[id] = r;
  metrics::registry::global().inc("cbdc_pos_requests_total", {{"state", "created"}});
  return r;
}

auto shop::find(std::uint64_t id) -> result<till_request> {
  std::lock_guard lock(m_mutex);
  const auto it = m_requests.find(id);
  if (it == m_requests.end()) {
    return error{status_code::not_found, "no request " + std::to_string(id)};
  }
  return it->second;
}

auto shop::takings() -> std::pair<std::vector<till_request>, std::int64_t> {
  const auto day = [&](std::int64_t us) { return local_day(us, m_config.utc_offset_minutes); };
  const auto today = day(unix_now_us());
  std::lock_guard lock(m_mutex);
  std::vector<till_request> paid;
  std::int64_t total = 0;
  for (auto it = m_requests.rbegin(); it != m_requests.rend(); ++it) {
    if (it->second.state == "paid" && day(it->second.settled_us) == today) {
      paid.push_back(it->second);
      total += it->second.req.amount.minor();
    }
  }
  return {paid, total};
}

auto shop::payer_key(const std::string& name) -> const key_pair* {
  for (const auto& [n, key] : m_config.payers) {
    if (n == name) {
      return &key;
    }
  }
  return nullptr;
}

auto shop::class_of(const public_key& payer) -> std::string {
  std::lock_guard lock(m_rpc_mutex);
  auto w = m_bank->wallet_info(payer);
  return w ? std::string{bank::class_name(w->cls)} : std::string{};
}

auto shop::payers() -> std::vector<payer_view> {
  std::vector<payer_view> out;
  for (const auto& [name, key] : m_config.payers) {
    payer_view v;
    v.name = name;
    v.key_hex = key.pub().hex();
    v.wallet_class = class_of(key.pub());
    std::lock_guard lock(m_rpc_mutex);
    auto unspent = m_bank->list_unspent(key.pub());
    if (unspent) {
      for (const auto& t : *unspent) {
        v.balance_minor += t.cur == m_config.cur ? t.amount_minor : 0;
      }
    }
    out.push_back(v);
  }
  return out;
}

auto shop::inspect(const std::string& uri, const std::string& payer)
    -> result<std::pair<wallet::payment_request, payer_view>> {
  auto req = wallet::parse_request(uri, unix_now_us() / 1'000'000);
  if (!req) {
    return req.err();
  }
  for (auto& v : payers()) {
    if (v.name == payer) {
      return std::pair{*req, v};
    }
  }
  return error{status_code::unknown_wallet, "no payer wallet '" + payer + "' on this demo"};
}

auto shop::pay(const std::string& uri, const std::string& payer) -> result<settlement::receipt> {
  const auto* key = payer_key(payer);
  if (key == nullptr) {
    return error{status_code::unknown_wallet, "no payer wallet '" + payer + "' on this demo"};
  }
  // The till's own request, when the URI is one: a refusal is shown on the merchant's page.
  std::optional<std::uint64_t> mine;
  {
    std::lock_guard lock(m_mutex);
    for (const auto& [id, r] : m_requests) {
      if (r.uri == uri) {
        mine = id;
      }
    }
  }
  const auto refuse = [&](const error& err) -> result<settlement::receipt> {
    if (mine) {
      mark(*mine, err.code == status_code::request_expired ? "expired" : "refused",
           std::string{to_string(err.code)} + (err.message.empty() ? "" : ": " + err.message));
    }
    return err;
  };
  auto req = wallet::parse_request(uri, unix_now_us() / 1'000'000);
  if (!req) {
    return refuse(req.err());
  }
  result<settlement::receipt> receipt = error{status_code::internal, "not sent"};
  {
    std::lock_guard lock(m_rpc_mutex);
    // The payer's tokens from its bank, which then submits the payment: one request each.
    auto unspent = m_bank->list_unspent(key->pub());
    if (!unspent) {
      return unspent.err();  // the request stays open: nothing was sent
    }
    auto tx =
        payment::build_payment(*key, *unspent, req->merchant, req->amount, payment::random_nonce(),
                               req->reference, m_settle->shard_count());
    if (!tx) {
      return refuse(tx.err());
    }
    receipt = m_bank->pay(*tx);
  }
  if (!receipt) {
    return refuse(receipt.err());
  }
  if (mine) {
    mark_paid(*mine, receipt->tx_id, receipt->settled_at_us, key->pub());
  }
  return receipt;
}

auto shop::subscribe(std::function<void(const std::string&)> fn) -> std::shared_ptr<void> {
  std::lock_guard lock(m_mutex);
  const auto id = m_next_subscriber++;
  m_subscribers[id] = std::move(fn);
  return std::shared_ptr<void>(nullptr, [this, id](void*) {
    std::lock_guard unlock(m_mutex);
    m_subscribers.erase(id);
  });
}

void shop::publish(const till_request& r) {
  // Called with m_mutex held.
  const auto text =
      boost::json::serialize(boost::json::object{{"type", "request"}, {"request", to_json(r)}});
  for (const auto& [id, fn] : m_subscribers) {
    fn(text);
  }
}

void shop::mark(std::uint64_t id, const std::string& state, const std::string& reason) {
  std::lock_guard lock(m_mutex);
  auto& r = m_requests.at(id);
  if (r.state == "paid") {
    return;  // settled is final
  }
  r.state = state;
  r.reason = reason;
  metrics::registry::global().inc("cbdc_pos_requests_total", {{"state", state}});
  publish(r);
}

void shop::mark_paid(std::uint64_t id, const hash256& tx_id, std::int64_t settled_us,
                     const public_key& payer) {
  const auto cls = class_of(payer);
  std::lock_guard lock(m_mutex);
  auto& r = m_requests.at(id);
  if (r.state == "paid") {
    return;
  }
  r.state = "paid";
  r.reason.clear();
  r.tx_id = tx_id.hex();
  r.settled_us = settled_us > 0 ? settled_us : unix_now_us();
  r.payer_class = cls;
  metrics::registry::global().inc("cbdc_pos_requests_total", {{"state", "paid"}});
  publish(r);
}

void shop::follow_settlement() {
  const std::string topic = std::string{currency_code(m_config.cur)} + ":" + m_merchant.pub().hex();
  settlement::subscriber sub(m_config.settle_pub, {topic}, m_config.net);
  while (!m_stopping) {
    auto settled = sub.next(200);
    if (settled) {
      on_settled(*settled);
    }
  }
}

void shop::on_settled(const wire::TxSettled& settled) {
  auto id = id_from_wire(settled.tx_id());
  if (!id) {
    return;
  }
  std::int64_t to_merchant = 0;
  for (const auto& out : settled.outputs()) {
    auto t = settlement::token_from_wire(out);
    if (t && t->owner == m_merchant.pub() && t->cur == m_config.cur) {
      to_merchant += t->amount_minor;
    }
  }
  // The payment's memo names the request it pays; its signer is the payer.
  result<signed_tx> tx = error{status_code::internal, "not asked"};
  {
    std::lock_guard lock(m_rpc_mutex);
    tx = m_settle->get_signed_tx(*id);
  }
  if (!tx || tx->sigs.empty()) {
    return;
  }
  std::optional<std::uint64_t> match;
  {
    std::lock_guard lock(m_mutex);
    for (const auto& [rid, r] : m_requests) {
      if (r.req.reference == tx->tx.memo && r.req.amount.minor() == to_merchant) {
        match = rid;
      }
    }
  }
  if (match) {
    mark_paid(*match, *id, settled.settled_at_us(), tx->sigs.front().signer);
  }
}

void shop::expire_loop() {
  while (!m_stopping) {
    std::this_thread::sleep_for(std::chrono::milliseconds{250});
    const auto now_s = unix_now_us() / 1'000'000;
    std::vector<std::uint64_t> due;
    {
      std::lock_guard lock(m_mutex);
      for (const auto& [id, r] : m_requests) {
        if (r.state == "open" && r.req.expires_at_s < now_s) {
          due.push_back(id);
        }
      }
    }
    for (const auto id : due) {
      mark(id, "expired", "request_expired: not paid before its expiry");
    }
  }
}

}  // namespace cbdc::pos
