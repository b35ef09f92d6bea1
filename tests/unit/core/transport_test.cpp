#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <thread>
#include <zmq.hpp>

#include "core/transport.hpp"

using namespace cbdc;

namespace {

/// Answers GetSupply with a Supply echoing the currency; ignores GetToken (to provoke timeouts).
auto echo_handler() -> rpc_server::handler {
  return [](wire::Envelope&& req, const rpc_server::reply_fn& reply) {
    if (req.payload_case() == wire::Envelope::kGetToken) {
      return;
    }
    wire::Envelope answer;
    answer.mutable_supply()->set_currency(req.get_supply().currency());
    // Answer from another thread, as the settlement engine does.
    std::thread([reply, answer]() mutable { reply(std::move(answer)); }).detach();
  };
}

auto supply_request(std::uint32_t n) -> wire::Envelope {
  wire::Envelope req;
  req.mutable_get_supply()->set_currency(n);
  return req;
}

}  // namespace

TEST_CASE("a client calls a server over loopback", "[transport]") {
  rpc_server server("tcp://127.0.0.1:0", echo_handler());
  REQUIRE(server.start().ok());
  CHECK(server.endpoint().rfind("tcp://127.0.0.1:", 0) == 0);
  rpc_client client(server.endpoint());
  auto answer = client.call(supply_request(3));
  REQUIRE(answer.ok());
  CHECK(answer->supply().currency() == 3);
}

TEST_CASE("many requests in flight are matched to their answers", "[transport]") {
  rpc_server server("tcp://127.0.0.1:0", echo_handler());
  REQUIRE(server.start().ok());
  rpc_client client(server.endpoint());
  constexpr std::uint32_t k_requests = 2000;
  std::atomic<std::uint32_t> right{0};
  std::atomic<std::uint32_t> done{0};
  std::promise<void> all;
  for (std::uint32_t i = 0; i < k_requests; ++i) {
    client.call_async(supply_request(i), [&, i](result<wire::Envelope> r) {
      if (r && r->supply().currency() == i) {
        ++right;
      }
      if (++done == k_requests) {
        all.set_value();
      }
    });
  }
  REQUIRE(all.get_future().wait_for(std::chrono::seconds{30}) == std::future_status::ready);
  CHECK(right == k_requests);
}

TEST_CASE("an unanswered request times out", "[transport]") {
  rpc_server server("tcp://127.0.0.1:0", echo_handler());
  REQUIRE(server.start().ok());
  socket_options opts;
  opts.timeout_ms = 200;
  rpc_client client(server.endpoint(), opts);
  wire::Envelope req;
  req.mutable_get_token()->set_token_id("x");
  const auto started = std::chrono::steady_clock::now();
  auto answer = client.call(std::move(req));
  CHECK(answer.code() == status_code::timeout);
  CHECK(std::chrono::steady_clock::now() - started >= std::chrono::milliseconds{200});
}

TEST_CASE("a server answers garbage and other versions with malformed", "[transport]") {
  rpc_server server("tcp://127.0.0.1:0", echo_handler());
  REQUIRE(server.start().ok());
  zmq::socket_t raw(shared_context(), zmq::socket_type::dealer);
  raw.set(zmq::sockopt::linger, 0);
  raw.set(zmq::sockopt::rcvtimeo, 5000);
  raw.connect(server.endpoint());

  auto ask = [&](const std::string& payload) {
    raw.send(zmq::buffer(payload));
    zmq::message_t msg;
    REQUIRE(raw.recv(msg));
    wire::Envelope answer;
    REQUIRE(answer.ParseFromArray(msg.data(), static_cast<int>(msg.size())));
    return answer;
  };
  auto garbage = ask(std::string("\xff\xff\xff", 3));
  REQUIRE(garbage.payload_case() == wire::Envelope::kError);
  CHECK(garbage.error().status() == static_cast<std::uint32_t>(status_code::malformed));

  auto env = supply_request(1);
  env.set_version(99);
  env.set_request_id(7);
  auto wrong_version = ask(env.SerializeAsString());
  REQUIRE(wrong_version.payload_case() == wire::Envelope::kError);
  CHECK(wrong_version.request_id() == 7);
  CHECK(wrong_version.error().status() == static_cast<std::uint32_t>(status_code::malformed));
}

TEST_CASE("binding a taken endpoint is unavailable", "[transport]") {
  rpc_server first("tcp://127.0.0.1:0", echo_handler());
  REQUIRE(first.start().ok());
  rpc_server second(first.endpoint(), echo_handler());
  CHECK(second.start().code() == status_code::unavailable);
}
