// cbdc-settle's server: the role table (the trust boundary) and a shard behind a ROUTER socket;
// each request decoded, handed to the shard, its answer encoded.
#include "settlement/server.hpp"

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
  auto started = shard::start(s->m_config);
  if (!started) {
    return started.err();
  }
  s->m_shard = std::move(*started);
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
  m_shard.reset();
}

void server::handle(wire::Envelope&& request, const rpc_server::reply_fn& reply) {
  if (request.payload_case() == wire::Envelope::kSubmitTx) {
    auto& submit = *request.mutable_submit_tx();
    constexpr std::size_t k_max_request_id = 128;
    auto tx = submit.client_request_id().size() > k_max_request_id
                  ? result<signed_tx>{error{status_code::malformed,
                                            "a client request id has at most 128 bytes"}}
                  : from_wire(submit.tx());
    if (!tx) {
      receipt r;
      r.status = tx.code();
      r.detail = tx.err().message;
      r.shard = m_shard->number();
      wire::Envelope answer;
      *answer.mutable_receipt() = to_wire(r);
      reply(std::move(answer));
      return;
    }
    m_shard->submit_async(std::move(*tx), std::move(*submit.mutable_client_request_id()),
                          [reply](const result<receipt>& r) {
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
    m_shard->prepare(request.prepare().gid(), std::move(*tx),
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
    m_shard->resolve(request.resolve().gid(), request.resolve().commit(),
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
      auto found = m_shard->find_tx(*id);
      auto* status_msg = answer.mutable_tx_status();
      status_msg->set_status(static_cast<std::uint32_t>(found.code()));
      if (found) {
        *status_msg->mutable_receipt() = to_wire(found->first);
        *status_msg->mutable_tx() = to_wire(found->second);
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
      auto found = m_shard->get_token(*id);
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
      auto owner = key_from_wire(request.list_unspent().owner());
      if (!owner) {
        return error_envelope(0, owner.err());
      }
      auto tokens = m_shard->list_unspent(*owner, request.list_unspent().limit());
      if (!tokens) {
        return error_envelope(0, tokens.err());
      }
      auto* list = answer.mutable_unspent_list();
      list->set_status(0);
      for (const auto& t : *tokens) {
        *list->add_tokens() = to_wire(t);
      }
      return answer;
    }
    case wire::Envelope::kGetBalances: {
      const auto& q = request.get_balances();
      auto* out = answer.mutable_balances();
      const auto refuse = [&](const error& e) {
        out->Clear();
        out->set_status(static_cast<std::uint32_t>(e.code));
        out->set_detail(e.message);
        return answer;
      };
      auto cur = currency_from_wire(q.currency());
      if (!cur) {
        return refuse(error{status_code::malformed, cur.err().message});
      }
      if (q.owners_size() > static_cast<int>(k_max_balances)) {  // before decoding them
        return refuse(error{status_code::malformed,
                            "at most " + std::to_string(k_max_balances) + " keys a request"});
      }
      std::vector<public_key> owners;
      owners.reserve(static_cast<std::size_t>(q.owners_size()));
      for (const auto& raw : q.owners()) {
        auto owner = key_from_wire(raw);
        if (!owner) {
          return refuse(owner.err());
        }
        owners.push_back(std::move(*owner));
      }
      auto sums = m_shard->balances(owners, *cur);
      if (!sums) {
        return refuse(sums.err());
      }
      out->set_status(0);
      for (const auto sum : *sums) {
        out->add_amounts_minor(sum);
      }
      return answer;
    }
    case wire::Envelope::kGetSettledSince: {
      const auto& q = request.get_settled_since();
      auto page = m_shard->settled_since(m_shard->number(), q.after_batch_seq(), q.limit());
      auto* out = answer.mutable_settled_since();
      out->set_status(static_cast<std::uint32_t>(page.code()));
      if (!page) {
        out->set_detail(page.err().message);
        return answer;
      }
      for (auto& settled : page->txs) {
        *out->add_txs() = std::move(settled);
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
      auto totals = m_shard->supply(*cur);
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
