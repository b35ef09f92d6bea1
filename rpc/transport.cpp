// ZeroMQ transport: ROUTER servers and DEALER clients with CURVE, limits on every socket, role
// checks before a handler runs.
#include "rpc/transport.hpp"

#include "platform/metrics.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

namespace cbdc {
namespace {

using clock = std::chrono::steady_clock;

/// A thread-safe queue whose readiness is an eventfd that zmq_poll can wait on.
template <typename T>
class wake_queue {
 public:
  wake_queue() : m_fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) { CBDC_ASSERT(m_fd >= 0); }
  ~wake_queue() { ::close(m_fd); }
  wake_queue(const wake_queue&) = delete;
  auto operator=(const wake_queue&) -> wake_queue& = delete;

  /// Signals the descriptor only when the queue was empty: a burst of pushes (a batch's
  /// receipts) costs one write and one wake of the loop, not one each.
  void push(T item) {
    bool was_empty = false;
    {
      std::lock_guard lock(m_mutex);
      was_empty = m_items.empty();
      m_items.push_back(std::move(item));
    }
    if (was_empty) {
      const std::uint64_t one = 1;
      [[maybe_unused]] const auto n = ::write(m_fd, &one, sizeof one);
    }
  }
  /// Takes everything queued. The descriptor is read first, so an item pushed after the read
  /// either is taken here or (pushed after the take) signals again.
  auto drain() -> std::deque<T> {
    std::uint64_t count = 0;
    [[maybe_unused]] const auto n = ::read(m_fd, &count, sizeof count);
    std::lock_guard lock(m_mutex);
    return std::exchange(m_items, {});
  }
  [[nodiscard]] auto fd() const -> int { return m_fd; }

 private:
  int m_fd;
  std::mutex m_mutex;
  std::deque<T> m_items;
};

void set_common(zmq::socket_t& sock, const socket_options& opts) {
  sock.set(zmq::sockopt::sndhwm, opts.high_water_mark);
  sock.set(zmq::sockopt::rcvhwm, opts.high_water_mark);
  sock.set(zmq::sockopt::linger, 0);
  sock.set(zmq::sockopt::reconnect_ivl, opts.reconnect_ivl_ms);
  sock.set(zmq::sockopt::sndtimeo, 1000);
}

auto serialize(const wire::Envelope& env) -> std::string {
  std::string out;
  CBDC_ASSERT(env.SerializeToString(&out));
  return out;
}

}  // namespace

/// Runs a socket loop; the process's context terminating (at exit, while a client or server
/// still lives on a thread that outlasts main) ends it instead of terminating the process.
static void run_until_terminated(const std::function<void()>& loop) {
  try {
    loop();
  } catch (const zmq::error_t& e) {
    if (e.num() != ETERM) {
      throw;
    }
  }
}

auto shared_context() -> zmq::context_t& {
  static zmq::context_t ctx{2};
  return ctx;
}

void apply_curve_server(zmq::socket_t& sock, const socket_options& opts) {
  if (!opts.security) {
    return;
  }
  const auto& key = opts.security->key();
  sock.set(zmq::sockopt::zap_domain,
           register_zap_domain(opts.security, opts.admit_customers, opts.handshake_roles));
  sock.set(zmq::sockopt::curve_server, true);
  sock.set(zmq::sockopt::curve_secretkey, zmq::buffer(key.secret_key));
  sock.set(zmq::sockopt::curve_publickey, zmq::buffer(key.public_key));
}

auto apply_curve_client(zmq::socket_t& sock, const socket_options& opts,
                        const std::string& endpoint) -> status {
  if (!opts.security) {
    return ok_status();
  }
  auto server = opts.server_key;
  if (!server) {
    const auto dir = opts.security->directory();
    if (const auto* e = dir->by_endpoint(endpoint)) {
      server = e->key;
    }
  }
  if (!server) {
    return error{status_code::not_authorized,
                 "no node key is known for " + endpoint + " (add it to the nodes file)"};
  }
  const auto& key = opts.security->key();
  sock.set(zmq::sockopt::curve_serverkey, zmq::buffer(*server));
  sock.set(zmq::sockopt::curve_publickey, zmq::buffer(key.public_key));
  sock.set(zmq::sockopt::curve_secretkey, zmq::buffer(key.secret_key));
  return ok_status();
}

auto identify_sender(const void* message, const socket_options& opts) -> result<peer> {
  if (!opts.security) {
    return peer{};
  }
  // The ZAP handler set the connection's User-Id to the client's key, in hex.
  const char* user =
      zmq_msg_gets(const_cast<zmq_msg_t*>(static_cast<const zmq_msg_t*>(message)), "User-Id");
  curve_key key{};
  if (user != nullptr) {
    if (auto raw = from_hex(user); raw && raw->size() == key.size()) {
      std::copy(raw->begin(), raw->end(), key.begin());
      if (auto known = opts.security->identify(key)) {
        return *known;
      }
      if (opts.admit_customers) {
        return peer{user, role::customer, true};
      }
    }
  }
  return error{status_code::not_authorized, "the caller's key is not on the allow-list"};
}

role_table::role_table(std::string service, std::initializer_list<rule> rules)
    : m_service(std::move(service)), m_rules(rules) {}

auto role_table::check(const wire::Envelope& request, const peer& from) const -> status {
  for (const auto& [what, roles] : m_rules) {
    if (what != request.payload_case()) {
      continue;
    }
    if (!from.authenticated || roles.has(from.r)) {
      return ok_status();
    }
    return error{status_code::not_authorized, m_service + " answers " + payload_name(request) +
                                                  " only from role " + roles.names() + "; " +
                                                  from.describe() + " sent it"};
  }
  std::string answered;
  for (const auto& [what, roles] : m_rules) {
    const auto* field = wire::Envelope::descriptor()->FindFieldByNumber(what);
    answered += (answered.empty() ? "" : ", ") + (field != nullptr ? field->name() : "?");
  }
  return error{status_code::malformed, m_service + " does not answer " + payload_name(request) +
                                           "; it answers " + answered};
}

auto payload_name(const wire::Envelope& request) -> std::string {
  const auto* field = wire::Envelope::descriptor()->FindFieldByNumber(request.payload_case());
  return field != nullptr ? field->name() : std::string{"none"};
}

// ---- server ----

struct rpc_server::outbox {
  struct item {
    std::string peer;
    std::string payload;
    bool delimiter{false};  ///< a REQ client's empty frame goes back before the payload
  };
  wake_queue<item> queue;
  std::atomic<bool> closed{false};
};

rpc_server::rpc_server(std::string endpoint, handler on_request, role_table roles,
                       socket_options opts)
    : m_endpoint(std::move(endpoint)),
      m_handler(std::move(on_request)),
      m_roles(std::move(roles)),
      m_opts(std::move(opts)),
      m_outbox(std::make_shared<outbox>()),
      m_socket(nullptr, [](void* p) { delete static_cast<zmq::socket_t*>(p); }) {}

rpc_server::~rpc_server() {
  stop();
}

auto rpc_server::start() -> status {
  auto sock = std::make_unique<zmq::socket_t>(shared_context(), zmq::socket_type::router);
  set_common(*sock, m_opts);
  try {
    apply_curve_server(*sock, m_opts);
    sock->bind(m_endpoint);
  } catch (const zmq::error_t& e) {
    return error{status_code::unavailable, "cannot bind " + m_endpoint + ": " + e.what()};
  }
  m_endpoint = sock->get(zmq::sockopt::last_endpoint);
  m_socket.reset(sock.release());
  m_thread = std::thread([this] { run_until_terminated([this] { run(); }); });
  return ok_status();
}

void rpc_server::stop() {
  m_stop = true;
  m_outbox->closed = true;
  if (m_thread.joinable()) {
    m_thread.join();
  }
  m_socket.reset();
}

namespace {

/// Every service's requests by type and answered status, and their latency.
void record_request(const std::string& name, const wire::Envelope& answer,
                    clock::time_point started) {
  auto& m = metrics::registry::global();
  m.describe("cbdc_requests_total", metrics::kind::counter,
             "Requests answered, by request type and typed status");
  m.describe("cbdc_request_seconds", metrics::kind::histogram,
             "Time from a request's arrival to its answer, by request type");
  const auto code = answer_status(answer).code;
  m.inc("cbdc_requests_total", {{"request", name}, {"status", std::string{to_string(code)}}});
  m.observe("cbdc_request_seconds", {{"request", name}},
            std::chrono::duration<double>(clock::now() - started).count());
}

}  // namespace

void rpc_server::run() {
  auto& sock = *static_cast<zmq::socket_t*>(m_socket.get());
  std::weak_ptr<outbox> weak_box = m_outbox;
  while (!m_stop) {
    std::array<zmq::pollitem_t, 2> items{{
        {sock.handle(), 0, ZMQ_POLLIN, 0},
        {nullptr, m_outbox->queue.fd(), ZMQ_POLLIN, 0},
    }};
    zmq::poll(items.data(), items.size(), std::chrono::milliseconds{100});
    if ((items[1].revents & ZMQ_POLLIN) != 0) {
      for (auto& out : m_outbox->queue.drain()) {
        // A full peer queue or a vanished peer loses only that answer; the client times out
        // and retries with the same id, which is safe.
        (void)sock.send(zmq::buffer(out.peer),
                        zmq::send_flags::sndmore | zmq::send_flags::dontwait);
        if (out.delimiter) {
          (void)sock.send(zmq::str_buffer(""),
                          zmq::send_flags::sndmore | zmq::send_flags::dontwait);
        }
        (void)sock.send(zmq::buffer(out.payload), zmq::send_flags::dontwait);
      }
    }
    if ((items[0].revents & ZMQ_POLLIN) == 0) {
      continue;
    }
    // Take what is waiting, but at most a bounded number per turn so replies keep flowing.
    for (int n = 0; n < 1024; ++n) {
      std::vector<zmq::message_t> frames;
      const auto got =
          zmq::recv_multipart(sock, std::back_inserter(frames), zmq::recv_flags::dontwait);
      if (!got) {
        break;
      }
      if (frames.size() < 2) {
        continue;  // a routing id alone: nothing to answer
      }
      // A DEALER sends [payload]; a REQ socket [empty, payload]. Anything else is answered
      // malformed (to a REQ-shaped route when it starts with an empty frame).
      std::string peer = frames[0].to_string();
      const bool delimiter = frames.size() >= 3 && frames[1].empty();
      const bool shaped = frames.size() == (delimiter ? 3U : 2U);
      auto& body = frames.back();
      wire::Envelope request;
      const auto reply_to = [weak_box, peer, delimiter](wire::Envelope answer) {
        answer.set_version(k_protocol_version);
        if (auto box = weak_box.lock(); box && !box->closed) {
          box->queue.push(outbox::item{peer, serialize(answer), delimiter});
        }
      };
      if (!shaped) {
        reply_to(error_envelope(0, error{status_code::malformed,
                                         "a request is one frame (DEALER) or an empty frame and "
                                         "one frame (REQ); got " +
                                             std::to_string(frames.size() - 1) + " frames"}));
        continue;
      }
      if (!request.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
        reply_to(error_envelope(0, error{status_code::malformed, "not a cbdc Envelope"}));
        continue;
      }
      if (request.version() != k_protocol_version) {
        reply_to(error_envelope(
            request.request_id(),
            error{status_code::malformed, "protocol version " + std::to_string(request.version()) +
                                              ", this server speaks " +
                                              std::to_string(k_protocol_version)}));
        continue;
      }
      auto from = identify_sender(body.handle(), m_opts);
      auto allowed = from ? m_roles.check(request, *from) : status{from.err()};
      if (!allowed) {
        record_request(payload_name(request), error_envelope(0, allowed.err()), clock::now());
        reply_to(error_envelope(request.request_id(), allowed.err()));
        continue;
      }
      const auto id = request.request_id();
      const auto started = clock::now();
      auto name = payload_name(request);
      m_handler(std::move(request), *from,
                [reply_to, id, started, name = std::move(name)](wire::Envelope answer) {
                  answer.set_request_id(id);
                  record_request(name, answer, started);
                  reply_to(std::move(answer));
                });
    }
  }
}

// ---- client ----

struct rpc_client::state {
  struct pending {
    clock::time_point deadline;
    callback cb;
  };
  struct outgoing {
    wire::Envelope request;
    callback cb;
  };
  wake_queue<outgoing> queue;
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> next_id{1};
};

rpc_client::rpc_client(std::string endpoint, socket_options opts)
    : m_endpoint(std::move(endpoint)), m_opts(std::move(opts)), m_state(std::make_shared<state>()) {
  m_thread = std::thread([this] { run_until_terminated([this] { run(); }); });
}

rpc_client::~rpc_client() {
  m_state->stop = true;
  m_state->queue.push(state::outgoing{});  // wake the loop
  if (m_thread.joinable()) {
    m_thread.join();
  }
}

void rpc_client::call_async(wire::Envelope request, callback cb) {
  request.set_version(k_protocol_version);
  request.set_request_id(m_state->next_id++);
  m_state->queue.push(state::outgoing{std::move(request), std::move(cb)});
}

auto rpc_client::call(wire::Envelope request) -> result<wire::Envelope> {
  std::promise<result<wire::Envelope>> done;
  auto answer = done.get_future();
  call_async(std::move(request),
             [&done](result<wire::Envelope> r) { done.set_value(std::move(r)); });
  return answer.get();
}

void rpc_client::run() {
  zmq::socket_t sock(shared_context(), zmq::socket_type::dealer);
  set_common(sock, m_opts);
  // Without a key for the server every request fails at once, with the reason.
  const auto secured = apply_curve_client(sock, m_opts, m_endpoint);
  if (secured) {
    sock.connect(m_endpoint);
  }
  std::map<std::uint64_t, state::pending> in_flight;
  const auto timeout = std::chrono::milliseconds{m_opts.timeout_ms};
  while (!m_state->stop) {
    std::array<zmq::pollitem_t, 2> items{{
        {sock.handle(), 0, ZMQ_POLLIN, 0},
        {nullptr, m_state->queue.fd(), ZMQ_POLLIN, 0},
    }};
    // Asleep until an answer, a request or the earliest deadline (the destructor's wake-up
    // comes through the queue): an idle client costs no wake-ups.
    auto wait = std::chrono::milliseconds{-1};
    if (!in_flight.empty()) {
      wait = std::max(std::chrono::milliseconds{0},
                      std::chrono::ceil<std::chrono::milliseconds>(
                          in_flight.begin()->second.deadline - clock::now()));
    }
    zmq::poll(items.data(), items.size(), wait);
    if ((items[1].revents & ZMQ_POLLIN) != 0) {
      for (auto& out : m_state->queue.drain()) {
        if (!out.cb) {
          continue;  // the wake-up from the destructor
        }
        if (!secured) {
          out.cb(secured.err());
          continue;
        }
        const auto id = out.request.request_id();
        const auto sent = sock.send(zmq::buffer(serialize(out.request)), zmq::send_flags::dontwait);
        if (!sent) {
          out.cb(error{status_code::overloaded, "client queue to " + m_endpoint + " is full"});
          continue;
        }
        in_flight.emplace(id, state::pending{clock::now() + timeout, std::move(out.cb)});
      }
    }
    if ((items[0].revents & ZMQ_POLLIN) != 0) {
      for (int n = 0; n < 1024; ++n) {
        zmq::message_t msg;
        if (!sock.recv(msg, zmq::recv_flags::dontwait)) {
          break;
        }
        wire::Envelope answer;
        if (!answer.ParseFromArray(msg.data(), static_cast<int>(msg.size()))) {
          continue;
        }
        const auto it = in_flight.find(answer.request_id());
        if (it == in_flight.end()) {
          continue;  // answer after its deadline
        }
        auto cb = std::move(it->second.cb);
        in_flight.erase(it);
        cb(std::move(answer));
      }
    }
    const auto now = clock::now();
    // Ids grow with time and every request has the same timeout, so deadlines are in id order.
    while (!in_flight.empty() && in_flight.begin()->second.deadline <= now) {
      auto cb = std::move(in_flight.begin()->second.cb);
      in_flight.erase(in_flight.begin());
      cb(error{status_code::timeout, "no answer from " + m_endpoint + " within " +
                                         std::to_string(m_opts.timeout_ms) + " ms"});
    }
  }
  for (auto& [id, p] : in_flight) {
    p.cb(error{status_code::unavailable, "client closed"});
  }
}

}  // namespace cbdc
