#include "settlement/server.hpp"

#include <limits>

namespace cbdc::settlement {

auto shard_roles() -> role_table {
  using E = wire::Envelope;
  // Reading the registry: the operator nodes, the coordinator, and people's tools (an auditor).
  const role_set readers{role::bank, role::issuer,      role::dealer,
                         role::pos,  role::coordinator, role::operator_};
  return role_table{"settlement",
                    {
                        {E::kSubmitTx, k_operator_nodes},
                        {E::kPrepare, {role::coordinator}},
                        {E::kResolve, {role::coordinator}},
                        {E::kGetTx, readers},
                        {E::kGetToken, readers},
                        {E::kListUnspent, readers},
                        {E::kGetSupply, readers},
                        {E::kGetSettledSince, {role::bank, role::operator_}},
                        {E::kGetBalances, {role::bank, role::operator_}},
                    }};
}

server::server(server_config config)
    : m_config(std::move(config)), m_queries(m_config.query_queue) {}

auto server::start(server_config config) -> result<std::unique_ptr<server>> {
  std::unique_ptr<server> s(new server(std::move(config)));
  {
    auto migrator = store::open(s->m_config.db_url);
    if (!migrator) {
      return migrator.err();
    }
    if (auto migrated = (*migrator)->migrate(); !migrated) {
      return migrated.err();
    }
  }
  auto query_db = store::open(s->m_config.db_url);
  if (!query_db) {
    return query_db.err();
  }
  s->m_query_db = std::move(*query_db);
  engine::settled_fn on_settled;
  if (!s->m_config.pub_endpoint.empty()) {
    s->m_publisher = std::make_unique<publisher>(s->m_config.pub_endpoint, s->m_config.net);
    if (auto bound = s->m_publisher->start(); !bound) {
      return bound.err();
    }
    on_settled = [pub = s->m_publisher.get()](const std::vector<const signed_tx*>& txs,
                                              const receipt& batch) { pub->publish(txs, batch); };
  }
  s->m_config.engine.net = s->m_config.net;
  auto eng = engine::start(
      s->m_config.engine, [url = s->m_config.db_url] { return store::open(url); },
      std::move(on_settled));
  if (!eng) {
    return eng.err();
  }
  s->m_engine = std::move(*eng);
  s->m_query_thread = std::thread([raw = s.get()] { raw->query_loop(); });
  s->m_server = std::make_unique<rpc_server>(
      s->m_config.endpoint,
      [raw = s.get()](wire::Envelope&& req, const peer&, const rpc_server::reply_fn& reply) {
        raw->handle(std::move(req), reply);
      },
      shard_roles(), s->m_config.net);
  if (auto bound = s->m_server->start(); !bound) {
    return bound.err();
  }
  return s;
}

server::~server() {
  if (m_server) {
    m_server->stop();
  }
  m_queries.close();
  if (m_query_thread.joinable()) {
    m_query_thread.join();
  }
  if (m_engine) {
    m_engine->stop();
  }
}

void server::handle(wire::Envelope&& request, const rpc_server::reply_fn& reply) {
  if (request.payload_case() == wire::Envelope::kSubmitTx) {
    const auto& submit = request.submit_tx();
    constexpr std::size_t k_max_request_id = 128;
    auto tx = submit.client_request_id().size() > k_max_request_id
                  ? result<signed_tx>{error{status_code::malformed,
                                            "a client request id has at most 128 bytes"}}
                  : from_wire(submit.tx());
    if (!tx) {
      receipt r;
      r.status = tx.code();
      r.detail = tx.err().message;
      r.shard = m_config.engine.shard;
      wire::Envelope answer;
      *answer.mutable_receipt() = to_wire(r);
      reply(std::move(answer));
      return;
    }
    m_engine->submit(std::move(*tx), submit.client_request_id(), [reply](const receipt& r) {
      wire::Envelope answer;
      *answer.mutable_receipt() = to_wire(r);
      reply(std::move(answer));
    });
    return;
  }
  if (request.payload_case() == wire::Envelope::kPrepare) {
    auto tx = from_wire(request.prepare().tx());
    if (!tx) {
      wire::Envelope answer;
      answer.mutable_prepared()->set_status(static_cast<std::uint32_t>(tx.code()));
      answer.mutable_prepared()->set_detail(tx.err().message);
      reply(std::move(answer));
      return;
    }
    m_engine->prepare(request.prepare().gid(), std::move(*tx),
                      [reply](const error& err, const std::vector<token_info>& inputs) {
                        wire::Envelope answer;
                        auto* out = answer.mutable_prepared();
                        out->set_status(static_cast<std::uint32_t>(err.code));
                        out->set_detail(err.message);
                        for (const auto& t : inputs) {
                          *out->add_inputs() = to_wire(t);
                        }
                        reply(std::move(answer));
                      });
    return;
  }
  if (request.payload_case() == wire::Envelope::kResolve) {
    m_engine->resolve(request.resolve().gid(), request.resolve().commit(),
                      [reply](const error& err) {
                        wire::Envelope answer;
                        answer.mutable_resolved()->set_status(static_cast<std::uint32_t>(err.code));
                        answer.mutable_resolved()->set_detail(err.message);
                        reply(std::move(answer));
                      });
    return;
  }
  query q{std::move(request), reply};
  if (!m_queries.try_push(q)) {
    reply(error_envelope(0, error{status_code::overloaded, "query queue is full"}));
  }
}

void server::query_loop() {
  while (auto q = m_queries.pop()) {
    q->reply(answer_query(q->request));
  }
}

auto server::answer_query(const wire::Envelope& request) -> wire::Envelope {
  wire::Envelope answer;
  switch (request.payload_case()) {
    case wire::Envelope::kGetTx: {
      auto id = id_from_wire(request.get_tx().tx_id());
      if (!id) {
        return error_envelope(0, id.err());
      }
      auto found = m_query_db->find_tx(*id, m_config.engine.shard);
      auto* status_msg = answer.mutable_tx_status();
      status_msg->set_status(static_cast<std::uint32_t>(found.code()));
      if (found) {
        *status_msg->mutable_receipt() = to_wire(found->first);
        status_msg->mutable_tx()->ParseFromString(found->second);
      } else if (found.code() != status_code::not_found) {
        return error_envelope(0, found.err());
      }
      return answer;
    }
    case wire::Envelope::kGetToken: {
      auto id = id_from_wire(request.get_token().token_id());
      if (!id) {
        return error_envelope(0, id.err());
      }
      auto found = m_query_db->find_token(*id);
      if (found) {
        *answer.mutable_token_status() = to_wire(*found);
      } else if (found.code() == status_code::not_found) {
        answer.mutable_token_status()->set_status(
            static_cast<std::uint32_t>(status_code::not_found));
      } else {
        return error_envelope(0, found.err());
      }
      return answer;
    }
    case wire::Envelope::kListUnspent: {
      const auto& raw = request.list_unspent().owner();
      auto owner = public_key::decode(
          byte_view{reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size()});
      if (!owner) {
        return error_envelope(0, error{status_code::malformed, owner.err().message});
      }
      constexpr std::uint32_t k_max_tokens = 10'000;
      const auto asked = request.list_unspent().limit();
      const auto limit = (asked == 0 || asked > k_max_tokens) ? k_max_tokens : asked;
      const auto tokens = m_engine->list_unspent(*owner, limit);
      auto* list = answer.mutable_unspent_list();
      list->set_status(0);
      for (const auto& t : tokens) {
        *list->add_tokens() = to_wire(t);
      }
      return answer;
    }
    case wire::Envelope::kGetBalances: {
      const auto& q = request.get_balances();
      auto* out = answer.mutable_balances();
      auto cur = currency_from_wire(q.currency());
      if (!cur || q.owners_size() > static_cast<int>(k_max_balances)) {
        out->set_status(static_cast<std::uint32_t>(status_code::malformed));
        out->set_detail(!cur ? cur.err().message
                             : "at most " + std::to_string(k_max_balances) + " keys a request");
        return answer;
      }
      for (const auto& raw : q.owners()) {
        auto owner = public_key::decode(
            byte_view{reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size()});
        if (!owner) {
          out->Clear();
          out->set_status(static_cast<std::uint32_t>(status_code::malformed));
          out->set_detail(owner.err().message);
          return answer;
        }
        std::int64_t sum = 0;
        for (const auto& t :
             m_engine->list_unspent(*owner, std::numeric_limits<std::size_t>::max())) {
          // A shard issues at most 1/K of 2^63-1: a key's unspent sum fits.
          sum += t.cur == *cur ? t.amount_minor : 0;
        }
        out->add_amounts_minor(sum);
      }
      out->set_status(0);
      return answer;
    }
    case wire::Envelope::kGetSettledSince: {
      constexpr std::uint32_t k_page = 5'000;
      const auto& q = request.get_settled_since();
      const auto limit = q.limit() == 0 ? k_page : std::min(q.limit(), k_page);
      auto page = m_query_db->settled_since(q.after_batch_seq(), limit, m_config.engine.shard,
                                            m_engine->last_batch_seq());
      auto* out = answer.mutable_settled_since();
      out->set_status(static_cast<std::uint32_t>(page.code()));
      if (!page) {
        out->set_detail(page.err().message);
        return answer;
      }
      for (const auto& [r, wire_tx] : page->txs) {
        wire::SignedTx msg;
        CBDC_ASSERT(msg.ParseFromString(wire_tx));
        auto stx = from_wire(msg);
        CBDC_ASSERT(stx.ok());  // settlement wrote it
        auto* settled = out->add_txs();
        *settled = settled_message(*stx, r);
        for (const auto& sig : stx->sigs) {
          settled->add_signers(bytes_to_wire(sig.signer.encode()));
        }
      }
      out->set_through_batch_seq(page->through_batch_seq);
      out->set_more(page->more);
      return answer;
    }
    case wire::Envelope::kGetSupply: {
      auto cur = currency_from_wire(request.get_supply().currency());
      if (!cur) {
        return error_envelope(0, cur.err());
      }
      auto totals = m_query_db->supply(*cur);
      if (!totals) {
        return error_envelope(0, totals.err());
      }
      auto* s = answer.mutable_supply();
      s->set_status(0);
      s->set_currency(static_cast<std::uint32_t>(*cur));
      s->set_issued_minor(totals->issued_minor);
      s->set_redeemed_minor(totals->redeemed_minor);
      s->set_unspent_minor(totals->unspent_minor);
      return answer;
    }
    default:  // the role table admits only the queries above here
      CBDC_ASSERT(false);
      return answer;
  }
}

}  // namespace cbdc::settlement
