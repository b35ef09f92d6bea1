// Trace files: CSV and compact binary.
#include "sim/trace.hpp"

#include <array>
#include <cstring>
#include <fstream>

#include "platform/files.hpp"

namespace cbdc::sim {

namespace {

constexpr std::array<char, 8> k_magic{'C', 'B', 'D', 'C', 'T', 'R', 'C', '1'};

template <typename T>
void put(std::string& out, T v) {
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    out.push_back(static_cast<char>((static_cast<std::uint64_t>(v) >> (8 * i)) & 0xffU));
  }
}

template <typename T>
auto get(const char* p) -> T {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    v |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  }
  return static_cast<T>(v);
}

void put_event(std::string& out, const event& e) {
  put(out, e.at_us);
  put(out, e.wallet);
  put(out, e.merchant);
  put(out, e.amount_minor);
  put(out, static_cast<std::uint8_t>(e.kind));
  put(out, e.category);
  put(out, e.wallet_class);
  put(out, std::uint8_t{0});
  put(out, e.region);
  put(out, e.bank);
  put(out, e.payee_bank);
  put(out, std::uint16_t{0});
  put(out, std::uint32_t{0});
}

auto get_event(const char* p) -> result<event> {
  event e;
  e.at_us = get<std::int64_t>(p);
  e.wallet = get<std::uint32_t>(p + 8);
  e.merchant = get<std::uint32_t>(p + 12);
  e.amount_minor = get<std::int64_t>(p + 16);
  const auto kind = get<std::uint8_t>(p + 24);
  e.category = get<std::uint8_t>(p + 25);
  e.wallet_class = get<std::uint8_t>(p + 26);
  e.region = get<std::uint16_t>(p + 28);
  e.bank = get<std::uint16_t>(p + 30);
  e.payee_bank = get<std::uint16_t>(p + 32);
  const bool sync = kind == static_cast<std::uint8_t>(event_kind::sync);
  if (kind > 4 || e.wallet_class < 1 || e.wallet_class > 4 || e.at_us < 0 ||
      (sync ? e.amount_minor != 0 : e.amount_minor <= 0)) {
    return error{status_code::malformed, "a trace event out of range"};
  }
  e.kind = static_cast<event_kind>(kind);
  return e;
}

}  // namespace

auto write_binary(const trace& t, const std::filesystem::path& path) -> status {
  std::string out(k_magic.begin(), k_magic.end());
  put(out, t.seed);
  put(out, static_cast<std::uint64_t>(t.events.size()));
  put(out, static_cast<std::uint32_t>(t.scenario_origin.size()));
  out += t.scenario_origin;
  put(out, static_cast<std::uint32_t>(t.scenario_text.size()));
  out += t.scenario_text;
  out.reserve(out.size() + t.events.size() * k_event_size);
  for (const auto& e : t.events) {
    put_event(out, e);
  }
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(out.data(), static_cast<std::streamsize>(out.size()));
  if (!file.flush()) {
    return error{status_code::io_error, "cannot write trace " + path.string()};
  }
  return ok_status();
}

auto read_binary(const std::filesystem::path& path) -> result<trace> {
  auto data = read_file(path);
  if (!data) {
    return data.err();
  }
  return parse_binary(*data, path.string());
}

auto parse_binary(const std::string& data, const std::string& origin) -> result<trace> {
  const auto bad = [&](const std::string& why) -> error {
    return error{status_code::malformed, origin + ": not a cbdc trace: " + why};
  };
  std::size_t at = 0;
  const auto need = [&](std::size_t n) { return data.size() - at >= n; };
  if (!need(28) || std::memcmp(data.data(), k_magic.data(), k_magic.size()) != 0) {
    return bad("no CBDCTRC1 header");
  }
  trace t;
  t.seed = get<std::uint64_t>(data.data() + 8);
  const auto count = get<std::uint64_t>(data.data() + 16);
  at = 24;
  for (auto* text : {&t.scenario_origin, &t.scenario_text}) {
    if (!need(4)) {
      return bad("truncated header");
    }
    const auto len = get<std::uint32_t>(data.data() + at);
    at += 4;
    if (!need(len)) {
      return bad("truncated header");
    }
    text->assign(data, at, len);
    at += len;
  }
  if ((data.size() - at) / k_event_size != count || (data.size() - at) % k_event_size != 0) {
    return bad("the header says " + std::to_string(count) + " events, the file holds " +
               std::to_string((data.size() - at) / k_event_size));
  }
  t.events.reserve(count);
  for (; at < data.size(); at += k_event_size) {
    auto e = get_event(data.data() + at);
    if (!e) {
      return bad(e.err().message + " at event " + std::to_string(t.events.size()));
    }
    t.events.push_back(*e);
  }
  return t;
}

auto write_csv(const trace& t, const std::vector<std::string>& category_names,
               const std::filesystem::path& path) -> status {
  std::ofstream file(path, std::ios::trunc);
  file << "at_us,kind,wallet,wallet_class,region,bank,merchant,payee_bank,category,amount_minor\n";
  for (const auto& e : t.events) {
    static constexpr std::array<const char*, 5> k_kinds{"topup", "payment", "load",
                                                        "offline_payment", "sync"};
    const bool pay = e.kind == event_kind::payment || e.kind == event_kind::offline_payment;
    file << e.at_us << ',' << k_kinds.at(static_cast<std::size_t>(e.kind)) << ',';
    if (e.wallet != k_no_merchant) {
      file << e.wallet;
    }
    file << ',' << int{e.wallet_class} << ',' << e.region << ',' << e.bank << ',';
    if (pay) {
      file << e.merchant << ',' << e.payee_bank << ',' << category_names.at(e.category);
    } else if (e.merchant != k_no_merchant) {
      file << e.merchant << ",,";
    } else {
      file << ",,";
    }
    file << ',' << e.amount_minor << '\n';
  }
  if (!file.flush()) {
    return error{status_code::io_error, "cannot write " + path.string()};
  }
  return ok_status();
}

}  // namespace cbdc::sim
