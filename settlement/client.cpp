#include "settlement/client.hpp"

#include <chrono>
#include <thread>

namespace cbdc::settlement {
namespace {

auto expect(result<wire::Envelope> answer, wire::Envelope::PayloadCase want)
    -> result<wire::Envelope> {
  if (!answer) {
    return answer;
  }
  if (answer->payload_case() == want) {
    return answer;
  }
  auto err = answer_status(*answer);
  if (err.code == status_code::ok) {
    err = error{status_code::malformed, "unexpected answer"};
  }
  return err;
}

auto to_receipt(result<wire::Envelope> answer) -> result<receipt> {
  auto env = expect(std::move(answer), wire::Envelope::kReceipt);
  if (!env) {
    return env.err();
  }
  return receipt_from_wire(env->receipt());
}

}  // namespace

client::client(std::string endpoint, socket_options opts) : m_rpc(std::move(endpoint), opts) {}

auto client::submit(const signed_tx& tx, const std::string& client_request_id) -> result<receipt> {
  wire::Envelope req;
  *req.mutable_submit_tx()->mutable_tx() = to_wire(tx);
  req.mutable_submit_tx()->set_client_request_id(client_request_id);
  return to_receipt(m_rpc.call(std::move(req)));
}

void client::submit_async(const signed_tx& tx, const std::string& client_request_id,
                          std::function<void(result<receipt>)> done) {
  wire::Envelope req;
  *req.mutable_submit_tx()->mutable_tx() = to_wire(tx);
  req.mutable_submit_tx()->set_client_request_id(client_request_id);
  m_rpc.call_async(std::move(req), [done = std::move(done)](result<wire::Envelope> answer) {
    done(to_receipt(std::move(answer)));
  });
}

auto client::get_tx(const hash256& id) -> result<receipt> {
  wire::Envelope req;
  req.mutable_get_tx()->set_tx_id(id_to_wire(id));
  auto env = expect(m_rpc.call(std::move(req)), wire::Envelope::kTxStatus);
  if (!env) {
    return env.err();
  }
  const auto code = static_cast<status_code>(env->tx_status().status());
  if (code != status_code::ok) {
    return error{code, "transaction " + id.hex()};
  }
  return receipt_from_wire(env->tx_status().receipt());
}

auto client::get_token(const hash256& id) -> result<token_info> {
  wire::Envelope req;
  req.mutable_get_token()->set_token_id(id_to_wire(id));
  auto env = expect(m_rpc.call(std::move(req)), wire::Envelope::kTokenStatus);
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
  wire::Envelope req;
  req.mutable_list_unspent()->set_owner(bytes_to_wire(owner.encode()));
  req.mutable_list_unspent()->set_limit(limit);
  auto env = expect(m_rpc.call(std::move(req)), wire::Envelope::kUnspentList);
  if (!env) {
    return env.err();
  }
  std::vector<token_info> out;
  for (const auto& t : env->unspent_list().tokens()) {
    auto token = token_from_wire(t);
    if (!token) {
      return token.err();
    }
    out.push_back(std::move(*token));
  }
  return out;
}

auto client::supply(currency cur) -> result<store::supply_totals> {
  wire::Envelope req;
  req.mutable_get_supply()->set_currency(static_cast<std::uint32_t>(cur));
  auto env = expect(m_rpc.call(std::move(req)), wire::Envelope::kSupply);
  if (!env) {
    return env.err();
  }
  return store::supply_totals{env->supply().issued_minor(), env->supply().redeemed_minor(),
                              env->supply().unspent_minor()};
}

auto submit_with_retry(client& settle, const signed_tx& tx, const std::string& request_id,
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
