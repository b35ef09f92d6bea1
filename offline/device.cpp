// A hardware wallet modelled in software (offline/device.hpp): paying and receiving offline,
// what the payee checks, and the device's state as its secure element keeps it.
#include "offline/device.hpp"

#include <algorithm>
#include <fstream>
#include <functional>
#include <sstream>

#include "offline/messages.hpp"
#include "payment/build.hpp"
#include "rpc/wire.hpp"

namespace cbdc::offline {
namespace {

/// The most a payment message may carry: a chain longer than this is refused (too_large)
/// rather than verified, and a device keeps its chains under it by refusing to pay beyond it.
constexpr std::size_t k_max_chain = 64;
constexpr std::size_t k_max_certs = 64;
constexpr std::size_t k_max_message_bytes = 1 << 20;

auto to_bytes(const std::string& s) -> bytes {
  return {s.begin(), s.end()};
}

/// Every element of a repeated field through read(), or the first error.
template <typename Out, typename Repeated, typename Fn>
auto all(const Repeated& in, Fn&& fn) -> result<std::vector<Out>> {
  std::vector<Out> out;
  out.reserve(static_cast<std::size_t>(in.size()));
  for (const auto& w : in) {
    auto v = fn(w);
    if (!v) {
      return v.err();
    }
    out.push_back(std::move(*v));
  }
  return out;
}

/// The error a result holds, or nullptr.
template <typename T>
auto first_error(const result<T>& r) -> const error* {
  return r ? nullptr : &r.err();
}

auto signer_of(const signed_tx& tx) -> const public_key* {
  return tx.sigs.size() == 1 ? &tx.sigs.front().signer : nullptr;
}

}  // namespace

// --- the statements as files -----------------------------------------------------------------

namespace {

/// A statement's bytes: its wire form serialized.
template <typename Wire, typename T>
auto serialize(const T& v) -> bytes {
  Wire w;
  write(w, v);
  return to_bytes(w.SerializeAsString());
}

/// A statement read back; anything else is malformed.
template <typename Wire>
auto parse(byte_view data, const char* what) -> result<Wire> {
  Wire w;
  if (data.size() > k_max_message_bytes ||
      !w.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
    return error{status_code::malformed, std::string{"not a "} + what};
  }
  return w;
}

}  // namespace

auto encode(const bank_cert& c) -> bytes {
  return serialize<wire::BankCert>(c);
}
auto encode(const device_cert& c) -> bytes {
  return serialize<wire::DeviceCert>(c);
}
auto encode(const voucher& v) -> bytes {
  return serialize<wire::LoadVoucher>(v);
}
auto encode(const revocation_list& r) -> bytes {
  return serialize<wire::RevocationList>(r);
}
auto decode_bank_cert(byte_view data) -> result<bank_cert> {
  auto w = parse<wire::BankCert>(data, "bank certificate");
  return w ? read(*w) : result<bank_cert>{w.err()};
}
auto decode_device_cert(byte_view data) -> result<device_cert> {
  auto w = parse<wire::DeviceCert>(data, "device certificate");
  return w ? read(*w) : result<device_cert>{w.err()};
}
auto decode_voucher(byte_view data) -> result<voucher> {
  auto w = parse<wire::LoadVoucher>(data, "voucher");
  return w ? read(*w) : result<voucher>{w.err()};
}
auto decode_revocations(byte_view data) -> result<revocation_list> {
  auto w = parse<wire::RevocationList>(data, "revocation list");
  return w ? read(*w) : result<revocation_list>{w.err()};
}

// --- the message ----------------------------------------------------------------------------

auto encode(const payment_message& m) -> bytes {
  wire::OfflinePayment w;
  *w.mutable_payment() = to_wire(m.payment);
  for (const auto& tx : m.chain) {
    *w.add_chain() = to_wire(tx);
  }
  for (const auto& v : m.roots) {
    write(*w.add_roots(), v);
  }
  for (const auto& c : m.certs) {
    write(*w.add_certs(), c);
  }
  for (const auto& b : m.banks) {
    write(*w.add_banks(), b);
  }
  auto& a = *w.mutable_attestation();
  a.set_tx_id(id_to_wire(m.attestation.tx_id));
  a.set_counter(m.attestation.counter);
  a.set_synced_s(m.attestation.synced_s);
  a.set_payments_since_sync(m.attestation.payments_since_sync);
  a.set_sig(bytes_to_wire(m.attestation.sig));
  return to_bytes(w.SerializeAsString());
}

auto decode_payment(byte_view data) -> result<payment_message> {
  if (data.size() > k_max_message_bytes) {
    return error{status_code::too_large, std::to_string(data.size()) + " bytes"};
  }
  wire::OfflinePayment w;
  if (!w.ParseFromArray(data.data(), static_cast<int>(data.size())) || !w.has_payment()) {
    return error{status_code::malformed, "not an offline payment"};
  }
  if (static_cast<std::size_t>(w.chain_size()) > k_max_chain ||
      static_cast<std::size_t>(w.roots_size()) > k_max_chain * k_max_inputs ||
      static_cast<std::size_t>(w.certs_size()) > k_max_certs ||
      static_cast<std::size_t>(w.banks_size()) > k_max_certs) {
    return error{status_code::too_large, "offline payment: chain or certificates too long"};
  }
  payment_message m;
  auto payment = from_wire(w.payment());
  if (!payment) {
    return payment.err();
  }
  m.payment = std::move(*payment);
  auto chain = all<signed_tx>(w.chain(), [](const wire::SignedTx& t) { return from_wire(t); });
  auto roots = all<voucher>(w.roots(), [](const wire::LoadVoucher& v) { return read(v); });
  auto certs = all<device_cert>(w.certs(), [](const wire::DeviceCert& c) { return read(c); });
  auto banks = all<bank_cert>(w.banks(), [](const wire::BankCert& b) { return read(b); });
  auto tx_id = id_from_wire(w.attestation().tx_id());
  for (const auto* failed :
       {first_error(chain), first_error(roots), first_error(certs), first_error(banks)}) {
    if (failed != nullptr) {
      return *failed;
    }
  }
  if (!tx_id) {
    return error{status_code::malformed, "attestation: transaction id"};
  }
  m.chain = std::move(*chain);
  m.roots = std::move(*roots);
  m.certs = std::move(*certs);
  m.banks = std::move(*banks);
  m.attestation =
      attestation{*tx_id, w.attestation().counter(), w.attestation().synced_s(),
                  w.attestation().payments_since_sync(), to_bytes(w.attestation().sig())};
  return m;
}

auto evidence_of(const signed_tx& a, const signed_tx& b) -> std::optional<double_spend_evidence> {
  const auto* signer_a = signer_of(a);
  const auto* signer_b = signer_of(b);
  if (a.id == b.id || signer_a == nullptr || signer_b == nullptr || !(*signer_a == *signer_b) ||
      !verify(*signer_a, a.body, a.sigs.front().sig) ||
      !verify(*signer_b, b.body, b.sigs.front().sig)) {
    return std::nullopt;
  }
  for (const auto& in : a.tx.inputs) {
    if (std::find(b.tx.inputs.begin(), b.tx.inputs.end(), in) != b.tx.inputs.end()) {
      return double_spend_evidence{*signer_a, in, a.id, b.id};
    }
  }
  return std::nullopt;
}

// --- the device -----------------------------------------------------------------------------

device::device(key_pair key, device_cert cert, public_key central_bank)
    : m_key(std::move(key)), m_cert(std::move(cert)), m_central_bank(std::move(central_bank)) {}

auto device::create(key_pair key, device_cert cert, bank_cert bank, public_key central_bank,
                    std::int64_t now_s) -> result<device> {
  device d(std::move(key), std::move(cert), std::move(central_bank));
  if (!(d.m_cert.device == d.m_key.pub())) {
    return error{status_code::certificate_invalid, "the certificate is of another device"};
  }
  d.m_banks[bank.bank_id] = std::move(bank);
  if (auto ok = d.verify_cert(d.m_cert, now_s); !ok) {
    return ok.err();
  }
  d.m_certs[d.m_key.pub().hex()] = d.m_cert;
  d.m_synced_s = now_s;
  d.m_revoked_as_of_s = now_s;
  return d;
}

auto device::bank_key_of(const std::string& bank_id) const -> const public_key* {
  const auto it = m_banks.find(bank_id);
  return it == m_banks.end() ? nullptr : &it->second.bank_key;
}

auto device::verify_cert(const device_cert& c, std::int64_t now_s) const -> status {
  const auto bank = m_banks.find(c.bank_id);
  if (bank == m_banks.end() ||
      !verify(m_central_bank, bank->second.signed_bytes(), bank->second.sig)) {
    return error{status_code::certificate_invalid,
                 "bank " + c.bank_id + " is not certified by the central bank"};
  }
  if (bank->second.expires_s < now_s) {
    return error{status_code::certificate_expired, "bank " + c.bank_id + "'s certificate"};
  }
  if (!verify(bank->second.bank_key, c.signed_bytes(), c.sig)) {
    return error{status_code::certificate_invalid,
                 "device " + c.device.hex().substr(0, 16) + " is not certified by " + c.bank_id};
  }
  if (c.expires_s < now_s) {
    return error{status_code::certificate_expired,
                 "device " + c.device.hex().substr(0, 16) + "'s certificate"};
  }
  if (m_revoked.contains(c.device.hex())) {
    return error{status_code::device_revoked, "device " + c.device.hex().substr(0, 16)};
  }
  return ok_status();
}

auto device::sync(const revocation_list& list, const std::vector<bank_cert>& banks,
                  std::int64_t now_s) -> status {
  for (const auto& b : banks) {
    if (verify(m_central_bank, b.signed_bytes(), b.sig)) {
      m_banks[b.bank_id] = b;
    }
  }
  const auto* bank_key = bank_key_of(list.bank_id);
  if (bank_key == nullptr || !verify(*bank_key, list.signed_bytes(), list.sig)) {
    return error{status_code::certificate_invalid,
                 "revocation list not signed by a certified bank: " + list.bank_id};
  }
  for (const auto& d : list.devices) {
    m_revoked.insert(d.hex());
  }
  m_revoked_as_of_s = std::max(m_revoked_as_of_s, list.issued_s);
  m_synced_s = now_s;
  m_payments_since_sync = 0;
  return ok_status();
}

auto device::balance() const -> money {
  std::int64_t sum = 0;
  for (const auto& id : m_held) {
    sum += m_tokens.at(id).amount_minor;
  }
  return money{sum, m_banks.at(m_cert.bank_id).cur};
}

auto device::load_token(const voucher& v) -> status {
  const auto* bank_key = bank_key_of(v.bank_id);
  if (v.bank_id != m_cert.bank_id || bank_key == nullptr ||
      !verify(*bank_key, v.signed_bytes(), v.sig)) {
    return error{status_code::certificate_invalid, "not a voucher of this device's bank"};
  }
  if (!(v.owner == m_key.pub()) || v.cur != balance().cur()) {
    return error{status_code::bad_request, "the voucher's token is not this device's"};
  }
  if (std::find(m_held.begin(), m_held.end(), v.token_id) != m_held.end()) {
    return ok_status();  // loaded already
  }
  if (balance().minor() + v.amount_minor > m_cert.limits.balance_cap_minor && !m_compromised) {
    return error{status_code::offline_balance_cap,
                 "holding " + money{balance().minor() + v.amount_minor, v.cur}.format() +
                     " would pass the cap of " +
                     money{m_cert.limits.balance_cap_minor, v.cur}.format()};
  }
  m_vouchers[v.token_id] = v;
  m_tokens[v.token_id] = token{v.token_id, v.cur, v.amount_minor, v.owner, hash256{}};
  m_held.push_back(v.token_id);
  check_invariants();
  return ok_status();
}

void device::remember(const signed_tx& tx) {
  if (m_txs.emplace(tx.id, tx).second) {
    m_order.push_back(tx.id);
  }
  for (std::uint32_t i = 0; i < tx.tx.outputs.size(); ++i) {
    const auto& out = tx.tx.outputs[i];
    const auto id = token_id_of(tx.tx.prof, tx.id, i);
    m_tokens[id] = token{id, out.cur, out.amount_minor, out.owner, tx.id};
  }
}

auto device::ancestry(const std::vector<hash256>& tokens) const -> std::vector<hash256> {
  std::vector<hash256> order;
  std::set<hash256> done;
  // Post-order over the transfers that created the tokens: a transfer after those it spends.
  std::function<void(const hash256&)> visit = [&](const hash256& token_id) {
    const auto t = m_tokens.find(token_id);
    CBDC_ASSERT(t != m_tokens.end());
    if (t->second.created_by == hash256{} || done.contains(t->second.created_by)) {
      return;
    }
    done.insert(t->second.created_by);
    for (const auto& in : m_txs.at(t->second.created_by).tx.inputs) {
      visit(in);
    }
    order.push_back(t->second.created_by);
  };
  for (const auto& id : tokens) {
    visit(id);
  }
  return order;
}

auto device::pay(const public_key& payee, money amount, std::int64_t now_s)
    -> result<payment_message> {
  const auto cur = balance().cur();
  if (amount.cur() != cur || amount.minor() <= 0) {
    return error{status_code::amount_invalid, "pays in " + std::string{currency_code(cur)}};
  }
  if (!m_compromised) {  // the secure element's own rules
    if (auto ok = verify_cert(m_cert, now_s); !ok) {
      return ok.err();
    }
    if (amount.minor() > m_cert.limits.payment_cap_minor) {
      return error{status_code::offline_payment_cap,
                   amount.format() + " is over the cap of " +
                       money{m_cert.limits.payment_cap_minor, cur}.format()};
    }
    if (m_payments_since_sync >= m_cert.limits.max_payments) {
      return error{status_code::offline_count_cap,
                   std::to_string(m_payments_since_sync) + " offline payments since the last sync"};
    }
    if (now_s - m_synced_s > m_cert.limits.max_offline_s) {
      return error{status_code::offline_sync_stale,
                   std::to_string(now_s - m_synced_s) + " s since the last sync"};
    }
  }
  std::vector<settlement::token_info> held;
  held.reserve(m_held.size());
  for (const auto& id : m_held) {
    const auto& t = m_tokens.at(id);
    held.push_back(settlement::token_info{t.id, t.cur, t.amount_minor, t.owner, t.created_by, false,
                                          hash256{}});
  }
  // The nonce is the counter's next value; a compromised device does not count.
  const auto nonce = m_compromised ? m_counter : m_counter + 1;
  auto tx = payment::build_payment(m_key, held, payee, amount, nonce, "offline");
  if (!tx) {
    return tx.err();
  }
  auto inputs = tx->tx.inputs;
  auto chain_ids = ancestry(inputs);
  if (chain_ids.size() >= k_max_chain) {
    return error{status_code::too_large, "the tokens' offline chain is " +
                                             std::to_string(chain_ids.size()) +
                                             " transfers long: reconnect to settle it first"};
  }
  payment_message m;
  m.payment = *tx;
  std::set<std::string> signers{m_key.pub().hex()};
  for (const auto& id : chain_ids) {
    m.chain.push_back(m_txs.at(id));
    signers.insert(m_txs.at(id).sigs.front().signer.hex());
  }
  // The vouchers the chain starts from: every input of the payment or the chain that no
  // transfer of the chain created.
  std::set<hash256> rooted;
  const auto add_roots = [&](const signed_tx& t) {
    for (const auto& in : t.tx.inputs) {
      if (m_vouchers.contains(in) && rooted.insert(in).second) {
        m.roots.push_back(m_vouchers.at(in));
      }
    }
  };
  for (const auto& t : m.chain) {
    add_roots(t);
  }
  add_roots(m.payment);
  std::set<std::string> banks;
  for (const auto& s : signers) {
    const auto& c = m_certs.at(s);
    m.certs.push_back(c);
    if (banks.insert(c.bank_id).second) {
      m.banks.push_back(m_banks.at(c.bank_id));
    }
  }
  if (!m_compromised) {
    ++m_counter;
    ++m_payments_since_sync;
  }
  m.attestation = attestation{tx->id, nonce, m_synced_s, m_payments_since_sync, {}};
  m.attestation.sig = m_key.sign(m.attestation.signed_bytes());
  remember(*tx);
  if (!m_compromised) {  // a compromised device keeps what it spent, to spend it again
    std::erase_if(m_held, [&](const hash256& id) {
      return std::find(inputs.begin(), inputs.end(), id) != inputs.end();
    });
  }
  for (std::uint32_t i = 0; i < tx->tx.outputs.size(); ++i) {
    if (tx->tx.outputs[i].owner == m_key.pub()) {
      m_held.push_back(token_id_of(tx->tx.prof, tx->id, i));  // the change
    }
  }
  check_invariants();
  return m;
}

auto device::receive(const payment_message& m, std::int64_t now_s) -> status {
  const auto my_cur = balance().cur();
  // Its own view must be fresh enough to trust: the revocation list as last synced.
  if (now_s - m_synced_s > m_cert.limits.max_offline_s) {
    return error{status_code::offline_sync_stale,
                 "this device last synced " + std::to_string(now_s - m_synced_s) + " s ago"};
  }
  // The banks: each certified by the central bank.
  std::map<std::string, bank_cert> banks = m_banks;
  for (const auto& b : m.banks) {
    if (!verify(m_central_bank, b.signed_bytes(), b.sig)) {
      return error{status_code::certificate_invalid,
                   "bank " + b.bank_id + " is not certified by the central bank"};
    }
    banks[b.bank_id] = b;
  }
  const auto saved_banks = m_banks;
  m_banks = banks;  // verify_cert reads them; restored below when the payment is refused
  const auto refuse = [&](error e) -> status {
    m_banks = saved_banks;
    return e;
  };
  // The devices: each certified by its bank, unexpired, not revoked.
  std::map<std::string, device_cert> certs;
  for (const auto& c : m.certs) {
    if (auto ok = verify_cert(c, now_s); !ok) {
      return refuse(ok.err());
    }
    certs[c.device.hex()] = c;
  }
  // The chain, from the vouched tokens: every transfer spends tokens that exist at that point,
  // owned by its one signer, a certified device; value conserved.
  std::map<hash256, token> live;
  for (const auto& v : m.roots) {
    const auto b = banks.find(v.bank_id);
    if (b == banks.end() || !verify(b->second.bank_key, v.signed_bytes(), v.sig)) {
      return refuse(error{status_code::chain_invalid, "a voucher is not signed by its bank"});
    }
    live[v.token_id] = token{v.token_id, v.cur, v.amount_minor, v.owner, hash256{}};
  }
  const auto check_transfer = [&](const signed_tx& t) -> status {
    const auto* signer = signer_of(t);
    if (t.tx.kind != tx_kind::transfer || signer == nullptr) {
      return error{status_code::chain_invalid, "a transfer must have one signer"};
    }
    if (!certs.contains(signer->hex())) {
      return error{status_code::certificate_invalid,
                   "no certificate for signer " + signer->hex().substr(0, 16)};
    }
    if (!verify(*signer, t.body, t.sigs.front().sig)) {
      return error{status_code::bad_signature, "transfer " + t.id.hex().substr(0, 16)};
    }
    std::map<currency, std::int64_t> in_sum;
    std::map<currency, std::int64_t> out_sum;
    for (const auto& in : t.tx.inputs) {
      const auto it = live.find(in);
      if (it == live.end()) {
        return error{status_code::chain_invalid,
                     "transfer " + t.id.hex().substr(0, 16) +
                         " spends a token that does not lead back to a settled one"};
      }
      if (!(it->second.owner == *signer)) {
        return error{status_code::chain_invalid, "a transfer spends another's token"};
      }
      in_sum[it->second.cur] += it->second.amount_minor;
    }
    for (const auto& out : t.tx.outputs) {
      if (out.amount_minor <= 0) {
        return error{status_code::amount_invalid, "an output of no value"};
      }
      out_sum[out.cur] += out.amount_minor;
    }
    if (in_sum != out_sum) {
      return error{status_code::value_not_conserved, "transfer " + t.id.hex().substr(0, 16)};
    }
    for (const auto& in : t.tx.inputs) {
      live.erase(in);
    }
    for (std::uint32_t i = 0; i < t.tx.outputs.size(); ++i) {
      const auto id = token_id_of(t.tx.prof, t.id, i);
      const auto& out = t.tx.outputs[i];
      live[id] = token{id, out.cur, out.amount_minor, out.owner, t.id};
    }
    return ok_status();
  };
  for (const auto& t : m.chain) {
    if (auto ok = check_transfer(t); !ok) {
      return refuse(ok.err());
    }
  }
  if (auto ok = check_transfer(m.payment); !ok) {
    return refuse(ok.err());
  }
  // The payment itself: to this device, within the payer's limits as its secure element
  // attests them, its counter above the last one seen from it.
  const auto& payer = *signer_of(m.payment);
  const auto& payer_cert = certs.at(payer.hex());
  std::int64_t to_me = 0;
  for (const auto& out : m.payment.tx.outputs) {
    if (out.owner == m_key.pub()) {
      if (out.cur != my_cur) {
        return refuse(error{status_code::currency_mismatch, "pays another currency"});
      }
      to_me += out.amount_minor;
    }
  }
  if (to_me == 0) {
    return refuse(error{status_code::bad_request, "the payment pays this device nothing"});
  }
  const auto& a = m.attestation;
  if (a.tx_id != m.payment.id || a.counter != m.payment.tx.nonce ||
      !verify(payer, a.signed_bytes(), a.sig)) {
    return refuse(error{status_code::bad_signature, "the payer's attestation"});
  }
  if (const auto seen = m_seen.find(payer.hex());
      seen != m_seen.end() && a.counter <= seen->second) {
    return refuse(error{
        status_code::counter_replay,
        "counter " + std::to_string(a.counter) + ", last seen " + std::to_string(seen->second)});
  }
  if (to_me > payer_cert.limits.payment_cap_minor) {
    return refuse(error{status_code::offline_payment_cap,
                        money{to_me, my_cur}.format() + " is over the payer's cap of " +
                            money{payer_cert.limits.payment_cap_minor, my_cur}.format()});
  }
  if (a.payments_since_sync > payer_cert.limits.max_payments) {
    return refuse(error{status_code::offline_count_cap, "the payer's " +
                                                            std::to_string(a.payments_since_sync) +
                                                            "th offline payment since its sync"});
  }
  if (now_s - a.synced_s > payer_cert.limits.max_offline_s) {
    return refuse(error{status_code::offline_sync_stale,
                        "the payer last synced " + std::to_string(now_s - a.synced_s) + " s ago"});
  }
  if (balance().minor() + to_me > m_cert.limits.balance_cap_minor) {
    return refuse(error{status_code::offline_balance_cap,
                        "holding " + money{balance().minor() + to_me, my_cur}.format() +
                            " would pass the cap of " +
                            money{m_cert.limits.balance_cap_minor, my_cur}.format()});
  }
  // Accepted: it keeps the chain, the vouchers and the certificates to pass them on.
  for (const auto& v : m.roots) {
    m_vouchers.emplace(v.token_id, v);
    m_tokens[v.token_id] = token{v.token_id, v.cur, v.amount_minor, v.owner, hash256{}};
  }
  for (const auto& t : m.chain) {
    remember(t);
  }
  remember(m.payment);
  for (const auto& [key, c] : certs) {
    m_certs.emplace(key, c);
  }
  for (std::uint32_t i = 0; i < m.payment.tx.outputs.size(); ++i) {
    if (m.payment.tx.outputs[i].owner == m_key.pub()) {
      m_held.push_back(token_id_of(m.payment.tx.prof, m.payment.id, i));
    }
  }
  m_seen[payer.hex()] = a.counter;
  check_invariants();
  return ok_status();
}

auto device::unload(const public_key& to, money amount) -> result<signed_tx> {
  std::vector<settlement::token_info> held;
  for (const auto& id : m_held) {
    const auto& t = m_tokens.at(id);
    held.push_back(settlement::token_info{t.id, t.cur, t.amount_minor, t.owner, t.created_by, false,
                                          hash256{}});
  }
  auto tx = payment::build_payment(m_key, held, to, amount, m_counter + 1, "unload");
  if (!tx) {
    return tx.err();
  }
  ++m_counter;
  remember(*tx);
  const auto& inputs = tx->tx.inputs;
  std::erase_if(m_held, [&](const hash256& id) {
    return std::find(inputs.begin(), inputs.end(), id) != inputs.end();
  });
  for (std::uint32_t i = 0; i < tx->tx.outputs.size(); ++i) {
    if (tx->tx.outputs[i].owner == m_key.pub()) {
      m_held.push_back(token_id_of(tx->tx.prof, tx->id, i));
    }
  }
  check_invariants();
  return *tx;
}

auto device::to_submit() const -> std::vector<signed_tx> {
  // Every transfer it knows, each after the transfers that created its inputs.
  std::vector<signed_tx> out;
  std::set<hash256> done;
  std::function<void(const hash256&)> visit = [&](const hash256& tx_id) {
    if (done.contains(tx_id)) {
      return;
    }
    done.insert(tx_id);
    const auto& t = m_txs.at(tx_id);
    for (const auto& in : t.tx.inputs) {
      if (const auto tok = m_tokens.find(in); tok != m_tokens.end() &&
                                              tok->second.created_by != hash256{} &&
                                              m_txs.contains(tok->second.created_by)) {
        visit(tok->second.created_by);
      }
    }
    out.push_back(t);
  };
  for (const auto& id : m_order) {
    visit(id);
  }
  return out;
}

auto device::known_certs() const -> std::vector<device_cert> {
  std::vector<device_cert> out;
  out.reserve(m_certs.size());
  for (const auto& [key, c] : m_certs) {
    out.push_back(c);
  }
  return out;
}

auto device::known_banks() const -> std::vector<bank_cert> {
  std::vector<bank_cert> out;
  out.reserve(m_banks.size());
  for (const auto& [id, b] : m_banks) {
    out.push_back(b);
  }
  return out;
}

void device::settled(const std::vector<hash256>& tx_ids, const std::vector<voucher>& vouchers) {
  const auto* bank_key = bank_key_of(m_cert.bank_id);
  for (const auto& v : vouchers) {
    const auto held = std::find(m_held.begin(), m_held.end(), v.token_id) != m_held.end();
    const auto t = m_tokens.find(v.token_id);
    if (held && bank_key != nullptr && v.bank_id == m_cert.bank_id && v.owner == m_key.pub() &&
        t != m_tokens.end() && t->second.amount_minor == v.amount_minor &&
        verify(*bank_key, v.signed_bytes(), v.sig)) {
      m_vouchers[v.token_id] = v;
      t->second.created_by = hash256{};
    }
  }
  // Keep what a held token's chain still needs, and what has not settled yet.
  const auto needed = ancestry(m_held);
  std::set<hash256> keep(needed.begin(), needed.end());
  const std::set<hash256> done(tx_ids.begin(), tx_ids.end());
  std::vector<hash256> order;
  for (const auto& id : m_order) {
    if (keep.contains(id) || !done.contains(id)) {
      order.push_back(id);
    } else {
      m_txs.erase(id);
    }
  }
  m_order = std::move(order);
  check_invariants();
}

void device::refused(const std::vector<hash256>& tx_ids) {
  std::set<hash256> gone;
  for (const auto& id : tx_ids) {
    if (m_txs.contains(id)) {
      gone.insert(id);
    }
  }
  // m_order is dependency order: a transfer comes after those whose tokens it spends.
  for (const auto& id : m_order) {
    for (const auto& in : m_txs.at(id).tx.inputs) {
      const auto t = m_tokens.find(in);
      if (t != m_tokens.end() && gone.contains(t->second.created_by)) {
        gone.insert(id);
      }
    }
  }
  std::erase_if(m_held, [&](const hash256& token_id) {
    return gone.contains(m_tokens.at(token_id).created_by);
  });
  for (const auto& id : gone) {
    const auto& tx = m_txs.at(id);
    if (tx.sigs.size() != 1 || !(tx.sigs.front().signer == m_key.pub())) {
      continue;
    }
    for (const auto& in : tx.tx.inputs) {  // its own inputs, not spent after all
      const auto t = m_tokens.find(in);
      if (t != m_tokens.end() && t->second.owner == m_key.pub() &&
          !gone.contains(t->second.created_by) &&
          std::find(m_held.begin(), m_held.end(), in) == m_held.end()) {
        m_held.push_back(in);
      }
    }
  }
  // Forget too what was only the chain of the forgotten: transfers no token it holds needs,
  // that neither it signed nor paid it.
  const auto needed = ancestry(m_held);
  const std::set<hash256> keep(needed.begin(), needed.end());
  for (const auto& id : m_order) {
    const auto& tx = m_txs.at(id);
    const bool signed_by_it = tx.sigs.size() == 1 && tx.sigs.front().signer == m_key.pub();
    const bool pays_it = std::any_of(tx.tx.outputs.begin(), tx.tx.outputs.end(),
                                     [&](const tx_output& o) { return o.owner == m_key.pub(); });
    if (!keep.contains(id) && !signed_by_it && !pays_it) {
      gone.insert(id);
    }
  }
  std::erase_if(m_order, [&](const hash256& id) { return gone.contains(id); });
  for (const auto& id : gone) {
    m_txs.erase(id);
  }
  check_invariants();
}

void device::check_invariants() const {
  std::int64_t sum = 0;
  for (const auto& id : m_held) {
    const auto it = m_tokens.find(id);
    CBDC_ASSERT(it != m_tokens.end());
    CBDC_ASSERT(it->second.owner == m_key.pub());
    CBDC_ASSERT(it->second.amount_minor > 0);
    sum += it->second.amount_minor;
  }
  CBDC_ASSERT(sum >= 0);
  CBDC_ASSERT(m_compromised || m_payments_since_sync <= m_cert.limits.max_payments);
}

// --- the device's state on disk ---------------------------------------------------------------

auto device::save(const std::filesystem::path& path) const -> status {
  wire::DeviceState w;
  w.set_seed(std::string(m_key.seed().begin(), m_key.seed().end()));
  w.set_profile(static_cast<std::uint32_t>(m_key.pub().prof));
  write(*w.mutable_cert(), m_cert);
  w.set_central_bank_key(bytes_to_wire(m_central_bank.encode()));
  w.set_counter(m_counter);
  w.set_synced_s(m_synced_s);
  w.set_payments_since_sync(m_payments_since_sync);
  auto& revoked = *w.mutable_revoked();
  revoked.set_issued_s(m_revoked_as_of_s);
  for (const auto& hex : m_revoked) {
    auto key = public_key::from_hex(hex);
    CBDC_ASSERT(key.ok());
    revoked.add_devices(bytes_to_wire(key->encode()));
  }
  for (const auto& id : m_held) {
    w.add_held(id_to_wire(id));
  }
  for (const auto& id : m_order) {
    *w.add_txs() = to_wire(m_txs.at(id));
  }
  for (const auto& [id, v] : m_vouchers) {
    write(*w.add_vouchers(), v);
  }
  for (const auto& [key, c] : m_certs) {
    write(*w.add_certs(), c);
  }
  for (const auto& [id, b] : m_banks) {
    write(*w.add_banks(), b);
  }
  for (const auto& [key, counter] : m_seen) {
    auto* seen = w.add_seen();
    auto k = public_key::from_hex(key);
    CBDC_ASSERT(k.ok());
    seen->set_device_key(bytes_to_wire(k->encode()));
    seen->set_counter(counter);
  }
  w.set_compromised(m_compromised);
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!w.SerializeToOstream(&out) || !out.flush()) {
      return error{status_code::io_error, "cannot write " + tmp};
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);  // all or nothing: a crash leaves the old state
  if (ec) {
    return error{status_code::io_error, "cannot replace " + path.string() + ": " + ec.message()};
  }
  return ok_status();
}

auto device::load(const std::filesystem::path& path) -> result<device> {
  std::ifstream in(path, std::ios::binary);
  wire::DeviceState w;
  if (!in || !w.ParseFromIstream(&in)) {
    return error{status_code::io_error, "cannot read a device from " + path.string()};
  }
  auto prof = profile_from_wire(w.profile());
  auto cert = read(w.cert());
  auto central = key_from_wire(w.central_bank_key());
  if (!prof || !cert || !central || w.seed().size() != 32) {
    return error{status_code::malformed, path.string() + ": not a device"};
  }
  std::array<std::uint8_t, 32> seed{};
  std::copy(w.seed().begin(), w.seed().end(), seed.begin());
  device d(key_pair::from_seed(*prof, seed), std::move(*cert), *central);
  d.m_counter = w.counter();
  d.m_synced_s = w.synced_s();
  d.m_payments_since_sync = w.payments_since_sync();
  d.m_compromised = w.compromised();
  auto revoked = read(w.revoked());
  auto vouchers = all<voucher>(w.vouchers(), [](const wire::LoadVoucher& v) { return read(v); });
  auto certs = all<device_cert>(w.certs(), [](const wire::DeviceCert& c) { return read(c); });
  auto banks = all<bank_cert>(w.banks(), [](const wire::BankCert& b) { return read(b); });
  auto txs = all<signed_tx>(w.txs(), [](const wire::SignedTx& t) { return from_wire(t); });
  for (const auto* failed : {first_error(revoked), first_error(vouchers), first_error(certs),
                             first_error(banks), first_error(txs)}) {
    if (failed != nullptr) {
      return error{status_code::malformed, path.string() + ": " + to_string(*failed)};
    }
  }
  d.m_revoked_as_of_s = revoked->issued_s;
  for (const auto& k : revoked->devices) {
    d.m_revoked.insert(k.hex());
  }
  for (auto& v : *vouchers) {
    d.m_tokens[v.token_id] = token{v.token_id, v.cur, v.amount_minor, v.owner, hash256{}};
    d.m_vouchers.emplace(v.token_id, std::move(v));
  }
  for (auto& c : *certs) {
    d.m_certs.emplace(c.device.hex(), std::move(c));
  }
  for (auto& b : *banks) {
    d.m_banks.emplace(b.bank_id, std::move(b));
  }
  for (const auto& t : *txs) {
    d.remember(t);
  }
  for (const auto& raw : w.held()) {
    auto id = id_from_wire(raw);
    if (!id || !d.m_tokens.contains(*id)) {
      return error{status_code::malformed, path.string() + ": a held token it does not know"};
    }
    d.m_held.push_back(*id);
  }
  for (const auto& s : w.seen()) {
    auto k = key_from_wire(s.device_key());
    if (!k) {
      return error{status_code::malformed, path.string() + ": a payer's key"};
    }
    d.m_seen[k->hex()] = s.counter();
  }
  if (!d.m_banks.contains(d.m_cert.bank_id)) {
    return error{status_code::malformed, path.string() + ": its bank's certificate is missing"};
  }
  d.check_invariants();
  return d;
}

}  // namespace cbdc::offline
