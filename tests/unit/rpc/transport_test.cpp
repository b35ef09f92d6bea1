// The ZeroMQ transport: calls over loopback, many in flight, timeouts, malformed frames.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "rpc/serial_server.hpp"
#include "rpc/transport.hpp"

using namespace cbdc;

namespace {

/// Answers GetSupply with a Supply echoing the currency; ignores GetToken (to provoke timeouts).
auto echo_handler() -> rpc_server::handler {
  return [](wire::Envelope&& req, const peer&, const rpc_server::reply_fn& reply) {
    if (req.payload_case() == wire::Envelope::kGetToken) {
      return;
    }
    wire::Envelope answer;
    answer.mutable_supply()->set_currency(req.get_supply().currency());
    // Answer from another thread, as the settlement engine does.
    std::thread([reply, answer]() mutable { reply(std::move(answer)); }).detach();
  };
}

/// The test service answers GetSupply (shards and banks) and GetToken (banks only).
auto echo_roles() -> role_table {
  return role_table{"the echo service",
                    {{wire::Envelope::kGetSupply, {role::shard, role::bank}},
                     {wire::Envelope::kGetToken, {role::bank}}}};
}

auto supply_request(std::uint32_t n) -> wire::Envelope {
  wire::Envelope req;
  req.mutable_get_supply()->set_currency(n);
  return req;
}

}  // namespace

TEST_CASE("a client calls a server over loopback", "[transport]") {
  rpc_server server("tcp://127.0.0.1:0", echo_handler(), echo_roles());
  REQUIRE(server.start().ok());
  CHECK(server.endpoint().rfind("tcp://127.0.0.1:", 0) == 0);
  rpc_client client(server.endpoint());
  auto answer = client.call(supply_request(3));
  REQUIRE(answer.ok());
  CHECK(answer->supply().currency() == 3);
}

TEST_CASE("many requests in flight are matched to their answers", "[transport]") {
  rpc_server server("tcp://127.0.0.1:0", echo_handler(), echo_roles());
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
  rpc_server server("tcp://127.0.0.1:0", echo_handler(), echo_roles());
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
  rpc_server server("tcp://127.0.0.1:0", echo_handler(), echo_roles());
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
  rpc_server first("tcp://127.0.0.1:0", echo_handler(), echo_roles());
  REQUIRE(first.start().ok());
  rpc_server second(first.endpoint(), echo_handler(), echo_roles());
  CHECK(second.start().code() == status_code::unavailable);
}

TEST_CASE("REQ clients and stray frames get an answer", "[transport]") {
  rpc_server server("tcp://127.0.0.1:0", echo_handler(), echo_roles());
  REQUIRE(server.start().ok());
  SECTION("a REQ socket's request is answered through its envelope") {
    zmq::socket_t req(shared_context(), zmq::socket_type::req);
    req.set(zmq::sockopt::linger, 0);
    req.set(zmq::sockopt::rcvtimeo, 5000);
    req.connect(server.endpoint());
    auto env = supply_request(4);
    env.set_version(k_protocol_version);
    req.send(zmq::buffer(env.SerializeAsString()));
    zmq::message_t msg;
    REQUIRE(req.recv(msg));
    wire::Envelope answer;
    REQUIRE(answer.ParseFromArray(msg.data(), static_cast<int>(msg.size())));
    CHECK(answer.supply().currency() == 4);
  }
  SECTION("extra frames are malformed") {
    zmq::socket_t raw(shared_context(), zmq::socket_type::dealer);
    raw.set(zmq::sockopt::linger, 0);
    raw.set(zmq::sockopt::rcvtimeo, 5000);
    raw.connect(server.endpoint());
    raw.send(zmq::str_buffer("a"), zmq::send_flags::sndmore);
    raw.send(zmq::str_buffer("b"), zmq::send_flags::sndmore);
    raw.send(zmq::str_buffer("c"));
    zmq::message_t msg;
    REQUIRE(raw.recv(msg));
    wire::Envelope answer;
    REQUIRE(answer.ParseFromArray(msg.data(), static_cast<int>(msg.size())));
    CHECK(answer.error().status() == static_cast<std::uint32_t>(status_code::malformed));
    // and the server keeps serving
    rpc_client client(server.endpoint());
    CHECK(client.call(supply_request(5))->supply().currency() == 5);
  }
}

TEST_CASE("a request type the service does not answer lists what it does", "[transport]") {
  rpc_server server("tcp://127.0.0.1:0", echo_handler(), echo_roles());
  REQUIRE(server.start().ok());
  rpc_client client(server.endpoint());
  wire::Envelope req;
  req.mutable_mint()->set_bank_id("b");
  auto answer = client.call(std::move(req));
  REQUIRE(answer.ok());
  const auto err = answer_status(*answer);
  CHECK(err.code == status_code::malformed);
  CHECK(err.message.find("get_supply") != std::string::npos);
  CHECK(err.message.find("get_token") != std::string::npos);
}

namespace {

/// A server node, a bank client and a shard client, each with a CURVE key, in one directory.
struct curve_world {
  node_key server_key = node_key::generate();
  node_key bank_key = node_key::generate();
  node_key shard_key = node_key::generate();
  node_key stranger_key = node_key::generate();
  std::shared_ptr<node_security> server;
  std::shared_ptr<node_security> bank;
  std::shared_ptr<node_security> shard;
  std::shared_ptr<node_security> stranger;

  static auto line(const std::string& name, const std::string& r, const node_key& k) {
    return name + " " + r + " " + k.public_hex() + "\n";
  }
  auto directory(bool with_bank = true) const -> node_directory {
    std::string text = line("srv", "coordinator", server_key) + line("s0", "shard", shard_key);
    if (with_bank) {
      text += line("bank-a", "bank", bank_key);
    }
    return *node_directory::parse(text, "test");
  }
  curve_world()
      : server(std::make_shared<node_security>(server_key, directory())),
        bank(std::make_shared<node_security>(bank_key, directory())),
        shard(std::make_shared<node_security>(shard_key, directory())),
        stranger(std::make_shared<node_security>(stranger_key, directory())) {}

  auto client_opts(const std::shared_ptr<node_security>& who) const -> socket_options {
    socket_options o;
    o.security = who;
    o.server_key = server_key.public_key;
    o.timeout_ms = 1500;
    return o;
  }
};

/// Answers with the caller's name and role in the detail of an Error.
auto whoami_handler() -> rpc_server::handler {
  return [](wire::Envelope&&, const peer& from, const rpc_server::reply_fn& reply) {
    reply(error_envelope(
        0, error{status_code::not_found, from.name + " " + std::string{role_name(from.r)}}));
  };
}

}  // namespace

TEST_CASE("CURVE: the allow-list admits, names and checks the role of each caller",
          "[transport][auth]") {
  curve_world w;
  socket_options server_opts;
  server_opts.security = w.server;
  rpc_server server("tcp://127.0.0.1:0", whoami_handler(), echo_roles(), server_opts);
  REQUIRE(server.start().ok());

  SECTION("an allowed key is served, tagged with its name and role") {
    rpc_client client(server.endpoint(), w.client_opts(w.bank));
    auto answer = client.call(supply_request(1));
    REQUIRE(answer.ok());
    CHECK(answer_status(*answer).message == "bank-a bank");
  }
  SECTION("a known key of the wrong role gets not_authorized naming the role it needs") {
    rpc_client client(server.endpoint(), w.client_opts(w.shard));
    wire::Envelope req;
    req.mutable_get_token()->set_token_id("x");
    auto answer = client.call(std::move(req));
    REQUIRE(answer.ok());
    const auto err = answer_status(*answer);
    CHECK(err.code == status_code::not_authorized);
    CHECK(err.message.find("only from role bank") != std::string::npos);
    CHECK(err.message.find("shard s0") != std::string::npos);
    // the same caller is served what its role may ask
    CHECK(answer_status(*client.call(supply_request(2))).message == "s0 shard");
  }
  SECTION("an unknown key is refused at the handshake: no request reaches the server") {
    rpc_client client(server.endpoint(), w.client_opts(w.stranger));
    CHECK(client.call(supply_request(1)).code() == status_code::timeout);
  }
  SECTION("a client without CURVE gets nothing from a CURVE server") {
    socket_options plain;
    plain.timeout_ms = 1000;
    rpc_client client(server.endpoint(), plain);
    CHECK(client.call(supply_request(1)).code() == status_code::timeout);
  }
  SECTION("a client that expects another server key gets nothing") {
    auto opts = w.client_opts(w.bank);
    opts.server_key = w.shard_key.public_key;
    rpc_client client(server.endpoint(), opts);
    CHECK(client.call(supply_request(1)).code() == status_code::timeout);
  }
  SECTION("a key removed from the directory is refused on its open connection") {
    rpc_client client(server.endpoint(), w.client_opts(w.bank));
    REQUIRE(answer_status(*client.call(supply_request(1))).message == "bank-a bank");
    w.server->set_directory(w.directory(false));
    auto answer = client.call(supply_request(1));
    REQUIRE(answer.ok());
    CHECK(answer_status(*answer).code == status_code::not_authorized);
  }
  SECTION("a client finds the server's key by its endpoint in the directory") {
    auto text = curve_world::line("srv", "coordinator", w.server_key).substr(0);
    text.pop_back();
    text += " " + server.endpoint() + "\n" + curve_world::line("bank-a", "bank", w.bank_key);
    w.bank->set_directory(*node_directory::parse(text, "test"));
    socket_options opts;
    opts.security = w.bank;
    opts.timeout_ms = 1500;
    rpc_client client(server.endpoint(), opts);
    CHECK(answer_status(*client.call(supply_request(1))).message == "bank-a bank");
    rpc_client lost("tcp://127.0.0.1:1", opts);
    CHECK(lost.call(supply_request(1)).code() == status_code::not_authorized);
  }
}

TEST_CASE("CURVE: a server admitting customers tags unknown keys as customers",
          "[transport][auth]") {
  curve_world w;
  socket_options server_opts;
  server_opts.security = w.server;
  server_opts.admit_customers = true;
  const role_table roles{"the bank-like service",
                         {{wire::Envelope::kGetSupply, {role::customer, role::bank}},
                          {wire::Envelope::kGetToken, {role::bank}}}};
  rpc_server server("tcp://127.0.0.1:0", whoami_handler(), roles, server_opts);
  REQUIRE(server.start().ok());
  rpc_client client(server.endpoint(), w.client_opts(w.stranger));
  auto answer = client.call(supply_request(1));
  REQUIRE(answer.ok());
  CHECK(answer_status(*answer).message == w.stranger_key.public_hex() + " customer");
  wire::Envelope req;
  req.mutable_get_token()->set_token_id("x");
  auto refused = client.call(std::move(req));
  REQUIRE(refused.ok());
  CHECK(answer_status(*refused).code == status_code::not_authorized);
}

TEST_CASE("a serial server runs delayed tasks in due order while more are posted", "[rpc]") {
  serial_server s(
      "tcp://127.0.0.1:0",
      serial_server::handler{[](const wire::Envelope&, const peer&) { return wire::Envelope{}; }},
      role_table{"the test service", {}});
  REQUIRE(s.start().ok());
  std::mutex m;
  std::vector<int> ran;
  const auto record = [&](int n) {
    return [&, n] {
      std::lock_guard lock(m);
      ran.push_back(n);
    };
  };
  // The timer waits for the first task's deadline; each task posted meanwhile grows the list
  // it waits on (under ASan, a deadline read from the moved list is caught).
  s.post_task_after(150, record(0));
  std::this_thread::sleep_for(std::chrono::milliseconds{30});
  for (int n = 1; n <= 20; ++n) {
    s.post_task_after(150 + (10 * n), record(n));
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  }
  s.post_task_after(0, record(-1));  // due at once: before the others
  for (int i = 0; i < 200; ++i) {
    {
      std::lock_guard lock(m);
      if (ran.size() == 22) {
        break;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  s.close();
  std::vector<int> want{-1};
  for (int n = 0; n <= 20; ++n) {
    want.push_back(n);
  }
  CHECK(ran == want);
}
