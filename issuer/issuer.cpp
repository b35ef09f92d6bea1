#include "issuer/issuer.hpp"

#include <pqxx/pqxx>

namespace cbdc::issuer {
namespace {

template <typename Fn>
auto guarded(Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const pqxx::broken_connection& e) {
    return error{status_code::unavailable, std::string{"PostgreSQL connection lost: "} + e.what()};
  } catch (const std::exception& e) {
    return error{status_code::db_error, e.what()};
  }
}

auto unhex(const pqxx::field& f) -> bytes {
  auto raw = from_hex(std::string_view{f.c_str()}.substr(2));
  CBDC_ASSERT(raw.ok());
  return *raw;
}

/// The mint transaction of a request: deterministic, so a retried request re-sends the same
/// transaction and settlement answers already_settled instead of issuing twice.
auto mint_tx(const key_pair& key, const public_key& vault, money amount,
             const std::string& request_id) -> signed_tx {
  transaction tx;
  tx.prof = key.pub().prof;
  tx.kind = tx_kind::issue;
  const auto digest =
      hash(tx.prof,
           byte_view{reinterpret_cast<const std::uint8_t*>(request_id.data()), request_id.size()});
  for (std::size_t i = 0; i < 8; ++i) {
    tx.nonce = (tx.nonce << 8U) | digest.data[i];
  }
  tx.outputs.push_back(tx_output{amount.cur(), amount.minor(), vault});
  tx.memo = "mint " + request_id.substr(0, 64);
  auto stx = signed_tx::make(std::move(tx));
  stx.sign_with(key);
  return stx;
}

}  // namespace

issuer::issuer(issuer_config config, key_pair key, std::unique_ptr<pqxx::connection> conn,
               const settlement::cluster& where)
    : m_config(std::move(config)),
      m_key(std::move(key)),
      m_conn(std::move(conn)),
      m_settle(where) {}

auto issuer::open(issuer_config config, key_pair key) -> result<std::unique_ptr<issuer>> {
  auto where = settlement::cluster::parse(config.settle_endpoint);
  if (!where) {
    return where.err();
  }
  auto conn = pg::connect(config.db_url);
  if (!conn) {
    return conn.err();
  }
  if (auto applied = pg::migrate(**conn, "issuer", migrations()); !applied) {
    return applied.err();
  }
  return std::unique_ptr<issuer>(
      new issuer(std::move(config), std::move(key), std::move(*conn), *where));
}

auto issuer::add_bank(const std::string& bank_id, const public_key& vault, bool domestic)
    -> status {
  return guarded([&]() -> status {
    pqxx::work tx(*m_conn);
    tx.exec_params(
        "INSERT INTO issuer.bank (bank_id, currency, domestic, vault_key) VALUES ($1, $2, $3, "
        "decode($4, 'hex')) ON CONFLICT (bank_id) DO UPDATE SET domestic = EXCLUDED.domestic, "
        "vault_key = EXCLUDED.vault_key",
        bank_id, std::string{currency_code(m_config.cur)}, domestic, vault.hex());
    tx.commit();
    return ok_status();
  });
}

auto issuer::mint(const std::string& bank_id, money amount, const std::string& request_id)
    -> result<mint_result> {
  if (request_id.empty() || request_id.size() > 128) {
    return error{status_code::bad_request, "a mint needs a request id of 1 to 128 characters"};
  }
  if (amount.cur() != m_config.cur) {
    return error{status_code::currency_mismatch,
                 "this central bank issues " + std::string{currency_code(m_config.cur)} + ", not " +
                     std::string{currency_code(amount.cur())}};
  }
  if (amount.minor() <= 0) {
    return error{status_code::amount_invalid, "a mint must be positive, not " + amount.format()};
  }
  // Record the request and its transaction first, so that a crash after settlement and before
  // the answer is repaired by the retry.
  auto recorded = guarded([&]() -> result<std::pair<signed_tx, bool>> {
    pqxx::work tx(*m_conn);
    const auto bank = tx.exec_params(
        "SELECT domestic, currency, vault_key FROM issuer.bank WHERE bank_id = $1", bank_id);
    if (bank.empty()) {
      return error{status_code::unknown_bank, "no bank '" + bank_id + "'"};
    }
    if (!bank[0][0].as<bool>()) {
      return error{status_code::not_domestic, "bank '" + bank_id + "' is not a domestic " +
                                                  std::string{currency_code(m_config.cur)} +
                                                  " bank"};
    }
    auto vault = public_key::decode(unhex(bank[0][2]));
    CBDC_ASSERT(vault.ok());
    const auto existing = tx.exec_params(
        "SELECT bank_id, amount_minor, signed_tx, settled FROM issuer.mint WHERE request_id = $1",
        request_id);
    if (!existing.empty()) {
      if (existing[0][0].as<std::string>() != bank_id ||
          existing[0][1].as<std::int64_t>() != amount.minor()) {
        return error{status_code::bad_request,
                     "request id '" + request_id + "' was used for another mint"};
      }
      const auto raw = unhex(existing[0][2]);
      wire::SignedTx msg;
      CBDC_ASSERT(msg.ParseFromArray(raw.data(), static_cast<int>(raw.size())));
      auto stx = from_wire(msg);
      CBDC_ASSERT(stx.ok());
      return std::make_pair(std::move(*stx), true);
    }
    auto stx = mint_tx(m_key, *vault, amount, request_id);
    std::string wire_bytes;
    CBDC_ASSERT(cbdc::to_wire(stx).SerializeToString(&wire_bytes));
    tx.exec_params(
        "INSERT INTO issuer.mint (request_id, bank_id, currency, amount_minor, tx_id, signed_tx) "
        "VALUES ($1, $2, $3, $4, decode($5, 'hex'), decode($6, 'hex'))",
        request_id, bank_id, std::string{currency_code(amount.cur())}, amount.minor(), stx.id.hex(),
        to_hex(byte_view{reinterpret_cast<const std::uint8_t*>(wire_bytes.data()),
                         wire_bytes.size()}));
    tx.commit();
    return std::make_pair(std::move(stx), false);
  });
  if (!recorded) {
    return recorded.err();
  }
  const auto& stx = recorded->first;
  auto receipt = settlement::submit_with_retry(m_settle, stx, "mint:" + request_id);
  if (!receipt) {
    return receipt.err();
  }
  if (receipt->status != status_code::ok && receipt->status != status_code::already_settled) {
    return error{receipt->status, "settlement refused the mint: " + receipt->detail};
  }
  auto marked = guarded([&]() -> status {
    pqxx::work tx(*m_conn);
    tx.exec_params("UPDATE issuer.mint SET settled = true WHERE request_id = $1", request_id);
    tx.commit();
    return ok_status();
  });
  if (!marked) {
    return marked.err();
  }
  mint_result out;
  out.tx_id = stx.id;
  out.already = recorded->second;
  for (std::uint32_t i = 0; i < stx.tx.outputs.size(); ++i) {
    out.token_ids.push_back(token_id_of(stx.tx.prof, stx.id, i));
  }
  return out;
}

auto issuer::minted_total() -> result<std::int64_t> {
  return guarded([&]() -> result<std::int64_t> {
    pqxx::read_transaction tx(*m_conn);
    const auto row = tx.exec_params1(
        "SELECT coalesce(sum(amount_minor), 0)::bigint FROM issuer.mint WHERE settled AND "
        "currency = $1",
        std::string{currency_code(m_config.cur)});
    return row[0].as<std::int64_t>();
  });
}

// ---- service ----

auto service::start(issuer_config config, key_pair key) -> result<std::unique_ptr<service>> {
  std::unique_ptr<service> s(new service());
  const auto endpoint = config.endpoint;
  auto iss = issuer::open(std::move(config), std::move(key));
  if (!iss) {
    return iss.err();
  }
  s->m_issuer = std::move(*iss);
  s->m_worker = std::thread([raw = s.get()] { raw->work(); });
  s->m_server = std::make_unique<rpc_server>(
      endpoint, [raw = s.get()](wire::Envelope&& req, const rpc_server::reply_fn& reply) {
        job j{std::move(req), reply};
        if (!raw->m_jobs.try_push(j)) {
          reply(error_envelope(0, error{status_code::overloaded, "issuer queue is full"}));
        }
      });
  if (auto bound = s->m_server->start(); !bound) {
    return bound.err();
  }
  return s;
}

service::~service() {
  if (m_server) {
    m_server->stop();
  }
  m_jobs.close();
  if (m_worker.joinable()) {
    m_worker.join();
  }
}

void service::work() {
  while (auto j = m_jobs.pop()) {
    if (j->request.payload_case() != wire::Envelope::kMint) {
      j->reply(error_envelope(0, error{status_code::malformed, "the issuer answers Mint"}));
      continue;
    }
    const auto& m = j->request.mint();
    wire::Envelope answer;
    auto* out = answer.mutable_mint_result();
    auto cur = currency_from_wire(m.currency());
    result<mint_result> minted =
        cur ? m_issuer->mint(m.bank_id(), money{m.amount_minor(), *cur}, m.request_id())
            : result<mint_result>{cur.err()};
    if (minted) {
      out->set_status(static_cast<std::uint32_t>(minted->already ? status_code::already_settled
                                                                 : status_code::ok));
      out->set_tx_id(id_to_wire(minted->tx_id));
      for (const auto& t : minted->token_ids) {
        out->add_token_ids(id_to_wire(t));
      }
    } else {
      out->set_status(static_cast<std::uint32_t>(minted.code()));
      out->set_detail(minted.err().message);
    }
    j->reply(std::move(answer));
  }
}

// ---- client ----

client::client(std::string endpoint, socket_options opts) : m_rpc(std::move(endpoint), opts) {}

auto client::mint(const std::string& bank_id, money amount, const std::string& request_id)
    -> result<mint_result> {
  wire::Envelope req;
  auto* m = req.mutable_mint();
  m->set_bank_id(bank_id);
  m->set_amount_minor(amount.minor());
  m->set_currency(static_cast<std::uint32_t>(amount.cur()));
  m->set_request_id(request_id);
  auto answer = m_rpc.call(std::move(req));
  if (!answer) {
    return answer.err();
  }
  if (answer->payload_case() != wire::Envelope::kMintResult) {
    auto err = answer_status(*answer);
    return err.code == status_code::ok ? error{status_code::malformed, "unexpected answer"} : err;
  }
  const auto& r = answer->mint_result();
  const auto code = static_cast<status_code>(r.status());
  if (code != status_code::ok && code != status_code::already_settled) {
    return error{code, r.detail()};
  }
  mint_result out;
  out.already = code == status_code::already_settled;
  auto id = id_from_wire(r.tx_id());
  if (!id) {
    return id.err();
  }
  out.tx_id = *id;
  for (const auto& t : r.token_ids()) {
    auto tid = id_from_wire(t);
    if (!tid) {
      return tid.err();
    }
    out.token_ids.push_back(*tid);
  }
  return out;
}

// ---- audit ----

auto audit(issuer& iss, settlement::client& settle, currency cur) -> result<audit_report> {
  audit_report report;
  report.cur = cur;
  auto minted = iss.minted_total();
  if (!minted) {
    return minted.err();
  }
  auto supply = settle.supply(cur);
  if (!supply) {
    return supply.err();
  }
  report.minted_minor = *minted;
  report.issued_minor = supply->issued_minor;
  report.redeemed_minor = supply->redeemed_minor;
  report.unspent_minor = supply->unspent_minor;
  const auto fmt = [cur](std::int64_t v) { return money{v, cur}.format(); };
  if (report.issued_minor - report.redeemed_minor != report.unspent_minor) {
    report.problems.push_back("issued " + fmt(report.issued_minor) + " - redeemed " +
                              fmt(report.redeemed_minor) + " != unspent supply " +
                              fmt(report.unspent_minor));
  }
  if (report.minted_minor != report.issued_minor) {
    report.problems.push_back("the issuer minted " + fmt(report.minted_minor) +
                              " but settlement holds " + fmt(report.issued_minor) + " as issued");
  }
  return report;
}

}  // namespace cbdc::issuer
