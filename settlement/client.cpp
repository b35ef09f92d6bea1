// Settlement's ZeroMQ client: routes a transaction to its shard or the coordinator, asks
// queries of the shards that hold the answer.
#include "settlement/client.hpp"

#include <chrono>
#include <thread>

namespace cbdc::settlement {
namespace {

auto to_receipt(result<wire::Envelope> answer) -> result<receipt> {
  auto env = expect_payload(std::move(answer), wire::Envelope::kReceipt);
  if (!env) {
    return env.err();
  }
  return receipt_from_wire(env->receipt());
}

}  // namespace

auto cluster::parse(const std::string& spec) -> result<cluster> {
  cluster out;
  const auto at = spec.find('@');
  const std::string shards = spec.substr(0, at);
  if (at != std::string::npos) {
    out.coordinator = spec.substr(at + 1);
  }
  for (std::size_t start = 0; start <= shards.size();) {
    const auto comma = shards.find(',', start);
    const auto one =
        shards.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (one.empty()) {
      return error{status_code::bad_request, "empty shard endpoint in '" + spec + "'"};
    }
    out.shards.push_back(one);
    if (comma == std::string::npos) {
      break;
    }
    start = comma + 1;
  }
  if (out.shards.size() > 1 && out.coordinator.empty()) {
    return error{status_code::bad_request,
                 "several shards need a coordinator: 'tcp://a,tcp://b@tcp://coordinator'"};
  }
  if (out.shards.size() > 256) {
    return error{status_code::bad_request, "at most 256 shards"};
  }
  return out;
}

client::client(const std::string& endpoint, const socket_options& opts)
    : client(cluster{{endpoint}, {}}, opts) {}

client::client(const cluster& where, const socket_options& opts) {
  CBDC_ASSERT(!where.shards.empty());
  for (const auto& ep : where.shards) {
    m_shards.push_back(std::make_unique<rpc_client>(ep, opts));
  }
  if (!where.coordinator.empty()) {
    m_coordinator = std::make_unique<rpc_client>(where.coordinator, opts);
  }
}

auto client::route(const signed_tx& tx) -> rpc_client* {
  if (m_shards.size() == 1) {
    return m_shards.front().get();
  }
  const auto shards = shards_of(tx.tx, tx.id, static_cast<std::uint32_t>(m_shards.size()));
  if (shards.size() == 1) {
    return m_shards.at(shards.front()).get();
  }
  return m_coordinator.get();
}

auto client::submit(const signed_tx& tx, const std::string& client_request_id) -> result<receipt> {
  auto* to = route(tx);
  if (to == nullptr) {
    return error{status_code::unavailable,
                 "the transaction spans shards and no coordinator is set"};
  }
  wire::Envelope req;
  *req.mutable_submit_tx()->mutable_tx() = to_wire(tx);
  req.mutable_submit_tx()->set_client_request_id(client_request_id);
  return to_receipt(to->call(std::move(req)));
}

void client::submit_async(const signed_tx& tx, const std::string& client_request_id,
                          receipt_fn done) {
  auto* to = route(tx);
  if (to == nullptr) {
    done(error{status_code::unavailable, "the transaction spans shards and no coordinator is set"});
    return;
  }
  wire::Envelope req;
  *req.mutable_submit_tx()->mutable_tx() = to_wire(tx);
  req.mutable_submit_tx()->set_client_request_id(client_request_id);
  to->call_async(std::move(req), [done = std::move(done)](result<wire::Envelope> answer) {
    done(to_receipt(std::move(answer)));
  });
}

auto client::find_tx(const hash256& id) -> result<wire::TxStatus> {
  // A transaction is recorded on every shard it touched: ask each until one knows it.
  for (auto& shard : m_shards) {
    wire::Envelope req;
    req.mutable_get_tx()->set_tx_id(id_to_wire(id));
    auto env = expect_payload(shard->call(std::move(req)), wire::Envelope::kTxStatus);
    if (!env) {
      return env.err();
    }
    const auto code = static_cast<status_code>(env->tx_status().status());
    if (code == status_code::ok) {
      return env->tx_status();
    }
    if (code != status_code::not_found) {
      return error{code, "transaction " + id.hex()};
    }
  }
  return error{status_code::not_found, "transaction " + id.hex()};
}

auto client::get_tx(const hash256& id) -> result<receipt> {
  auto found = find_tx(id);
  if (!found) {
    return found.err();
  }
  return receipt_from_wire(found->receipt());
}

auto client::get_signed_tx(const hash256& id) -> result<signed_tx> {
  auto found = find_tx(id);
  if (!found) {
    return found.err();
  }
  return from_wire(found->tx());
}

auto client::get_token(const hash256& id) -> result<token_info> {
  wire::Envelope req;
  req.mutable_get_token()->set_token_id(id_to_wire(id));
  auto& shard = *m_shards.at(shard_of(id, static_cast<std::uint32_t>(m_shards.size())));
  auto env = expect_payload(shard.call(std::move(req)), wire::Envelope::kTokenStatus);
  if (!env) {
    return env.err();
  }
  const auto code = static_cast<status_code>(env->token_status().status());
  if (code != status_code::ok) {
    return error{code, "token " + id.hex()};
  }
  return token_from_wire(env->token_status());
}

auto client::list_unspent(const public_key& owner, std::uint32_t limit)
    -> result<std::vector<token_info>> {
  std::vector<token_info> out;
  for (auto& shard : m_shards) {
    wire::Envelope req;
    req.mutable_list_unspent()->set_owner(bytes_to_wire(owner.encode()));
    req.mutable_list_unspent()->set_limit(limit);
    auto env = expect_payload(shard->call(std::move(req)), wire::Envelope::kUnspentList);
    if (!env) {
      return env.err();
    }
    for (const auto& t : env->unspent_list().tokens()) {
      auto token = token_from_wire(t);
      if (!token) {
        return token.err();
      }
      out.push_back(std::move(*token));
    }
  }
  return out;
}

struct client::listing {
  std::string owner;  ///< on the wire
  std::size_t next{0};
  std::vector<token_info> out;
  tokens_fn done;
};

void client::list_unspent_async(const public_key& owner, tokens_fn done) {
  auto s = std::make_shared<listing>();
  s->owner = bytes_to_wire(owner.encode());
  s->done = std::move(done);
  list_next(s);
}

void client::list_next(const std::shared_ptr<listing>& s) {
  if (s->next == m_shards.size()) {
    s->done(std::move(s->out));
    return;
  }
  wire::Envelope req;
  req.mutable_list_unspent()->set_owner(s->owner);
  m_shards[s->next]->call_async(std::move(req), [this, s](result<wire::Envelope> answer) {
    auto env = expect_payload(std::move(answer), wire::Envelope::kUnspentList);
    if (!env) {
      s->done(env.err());
      return;
    }
    for (const auto& t : env->unspent_list().tokens()) {
      auto token = token_from_wire(t);
      if (!token) {
        s->done(token.err());
        return;
      }
      s->out.push_back(std::move(*token));
    }
    ++s->next;
    list_next(s);
  });
}

auto client::balances(const std::vector<public_key>& owners, currency cur)
    -> result<std::vector<std::int64_t>> {
  constexpr std::size_t k_chunk = 10'000;  // the shards' bound (k_max_balances)
  std::vector<std::int64_t> out(owners.size(), 0);
  for (std::size_t from = 0; from < owners.size(); from += k_chunk) {
    const auto to = std::min(owners.size(), from + k_chunk);
    for (auto& shard : m_shards) {
      wire::Envelope req;
      auto* q = req.mutable_get_balances();
      q->set_currency(static_cast<std::uint32_t>(cur));
      for (std::size_t i = from; i < to; ++i) {
        q->add_owners(bytes_to_wire(owners[i].encode()));
      }
      auto env = expect_payload(shard->call(std::move(req)), wire::Envelope::kBalances);
      if (!env) {
        return env.err();
      }
      const auto& msg = env->balances();
      if (const auto code = static_cast<status_code>(msg.status()); code != status_code::ok) {
        return error{code, msg.detail()};
      }
      if (msg.amounts_minor_size() != static_cast<int>(to - from)) {
        return error{status_code::malformed, "a shard answered balances for other keys"};
      }
      for (std::size_t i = from; i < to; ++i) {
        auto sum = checked_add(out[i], msg.amounts_minor(static_cast<int>(i - from)));
        if (!sum) {
          return sum.err();
        }
        out[i] = *sum;
      }
    }
  }
  return out;
}

auto client::supply(currency cur) -> result<supply_totals> {
  supply_totals total;
  for (auto& shard : m_shards) {
    wire::Envelope req;
    req.mutable_get_supply()->set_currency(static_cast<std::uint32_t>(cur));
    auto env = expect_payload(shard->call(std::move(req)), wire::Envelope::kSupply);
    if (!env) {
      return env.err();
    }
    auto issued = checked_add(total.issued_minor, env->supply().issued_minor());
    auto redeemed = checked_add(total.redeemed_minor, env->supply().redeemed_minor());
    auto unspent = checked_add(total.unspent_minor, env->supply().unspent_minor());
    if (!issued || !redeemed || !unspent) {
      return error{status_code::overflow, "supply overflows 64 bits"};
    }
    total = supply_totals{*issued, *redeemed, *unspent};
  }
  return total;
}

auto client::settled_since(std::uint32_t shard, std::uint64_t after, std::uint32_t limit)
    -> result<settled_page> {
  if (shard >= m_shards.size()) {
    return error{status_code::bad_request, "no shard " + std::to_string(shard)};
  }
  wire::Envelope req;
  req.mutable_get_settled_since()->set_after_batch_seq(after);
  req.mutable_get_settled_since()->set_limit(limit);
  auto env = expect_payload(m_shards[shard]->call(std::move(req)), wire::Envelope::kSettledSince);
  if (!env) {
    return env.err();
  }
  auto& msg = *env->mutable_settled_since();
  if (const auto code = static_cast<status_code>(msg.status()); code != status_code::ok) {
    return error{code, msg.detail()};
  }
  settled_page page;
  page.txs.assign(std::make_move_iterator(msg.mutable_txs()->begin()),
                  std::make_move_iterator(msg.mutable_txs()->end()));
  page.through_batch_seq = msg.through_batch_seq();
  page.more = msg.more();
  return page;
}

auto submit_with_retry(interface& settle, const signed_tx& tx, const std::string& request_id,
                       int attempts) -> result<receipt> {
  CBDC_ASSERT(attempts > 0);
  result<receipt> last = error{status_code::internal, "not sent"};
  for (int i = 0; i < attempts; ++i) {
    last = settle.submit(tx, request_id);
    const auto code = last ? last->status : last.code();
    if (!is_transient(code)) {
      return last;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{100 << i});
  }
  return last;
}

}  // namespace cbdc::settlement
