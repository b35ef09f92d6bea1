// Wallet classes and their caps, checked without a database.
#include <catch2/catch.hpp>

#include "bank/limits.hpp"
#include "core/clock.hpp"

using namespace cbdc;
using namespace cbdc::bank;

namespace {

auto yuan(std::int64_t y, std::int64_t fen = 0) -> std::int64_t {
  return y * 100 + fen;
}

auto pay(wallet_class payer, std::int64_t amount, std::int64_t spent_today = 0) -> status_code {
  payment_check p;
  p.payer_class = payer;
  p.amount_minor = amount;
  p.payer_spent_today_minor = spent_today;
  return check_payment(default_limits(), p).code();
}

auto receive(wallet_class payee, std::int64_t balance, std::int64_t amount) -> status_code {
  payment_check p;
  p.payer_class = wallet_class::i;
  p.amount_minor = amount;
  p.payee_class = payee;
  p.payee_balance_minor = balance;
  return check_payment(default_limits(), p).code();
}

}  // namespace

TEST_CASE("per-payment caps at under and over their boundary", "[bank][limits]") {
  CHECK(pay(wallet_class::iv, yuan(1'999, 99)) == status_code::ok);
  CHECK(pay(wallet_class::iv, yuan(2'000)) == status_code::ok);
  CHECK(pay(wallet_class::iv, yuan(2'000, 1)) == status_code::per_payment_limit);
  CHECK(pay(wallet_class::ii, yuan(50'000)) == status_code::ok);
  CHECK(pay(wallet_class::ii, yuan(50'000, 1)) == status_code::per_payment_limit);
  CHECK(pay(wallet_class::iii, yuan(20'000)) == status_code::ok);
  CHECK(pay(wallet_class::iii, yuan(20'000, 1)) == status_code::per_payment_limit);
  CHECK(pay(wallet_class::i, yuan(10'000'000)) == status_code::ok);
  // The case of the issue: 2,000.01 refused to class IV, paid by class II.
  CHECK(pay(wallet_class::ii, yuan(2'000, 1)) == status_code::ok);
}

TEST_CASE("daily caps at under and over their boundary", "[bank][limits]") {
  CHECK(pay(wallet_class::iv, yuan(1'000), yuan(3'999, 99)) == status_code::ok);
  CHECK(pay(wallet_class::iv, yuan(1'000), yuan(4'000)) == status_code::ok);
  CHECK(pay(wallet_class::iv, yuan(1'000), yuan(4'000, 1)) == status_code::daily_limit);
  CHECK(pay(wallet_class::ii, yuan(50'000), yuan(50'000)) == status_code::ok);
  CHECK(pay(wallet_class::ii, yuan(1), yuan(100'000)) == status_code::daily_limit);
  CHECK(pay(wallet_class::iii, yuan(0, 1), yuan(49'999, 99)) == status_code::ok);
  CHECK(pay(wallet_class::iii, yuan(0, 2), yuan(49'999, 99)) == status_code::daily_limit);
}

TEST_CASE("balance caps of the payee at under and over their boundary", "[bank][limits]") {
  CHECK(receive(wallet_class::iv, yuan(9'000), yuan(999, 99)) == status_code::ok);
  CHECK(receive(wallet_class::iv, yuan(9'000), yuan(1'000)) == status_code::ok);
  CHECK(receive(wallet_class::iv, yuan(9'000), yuan(1'000, 1)) == status_code::balance_limit);
  CHECK(receive(wallet_class::ii, yuan(499'999), yuan(1)) == status_code::ok);
  CHECK(receive(wallet_class::ii, yuan(500'000), yuan(0, 1)) == status_code::balance_limit);
  CHECK(receive(wallet_class::i, yuan(100'000'000), yuan(1'000'000)) == status_code::ok);
}

TEST_CASE("a sub-wallet cap binds below its class's cap", "[bank][limits]") {
  payment_check p;
  p.payer_class = wallet_class::i;
  p.payee_class = wallet_class::ii;
  p.payee_sub_cap_minor = yuan(300);
  p.payee_balance_minor = yuan(200);
  p.amount_minor = yuan(100);
  CHECK(check_payment(default_limits(), p).ok());
  p.amount_minor = yuan(100, 1);
  const auto refused = check_payment(default_limits(), p);
  CHECK(refused.code() == status_code::balance_limit);
  CHECK(refused.err().message.find("sub-wallet") != std::string::npos);
}

TEST_CASE("limit errors name the limit and the amounts", "[bank][limits]") {
  payment_check p;
  p.payer_class = wallet_class::iv;
  p.amount_minor = yuan(2'000, 1);
  const auto refused = check_payment(default_limits(), p);
  REQUIRE(refused.code() == status_code::per_payment_limit);
  CHECK(refused.err().message ==
        "per-payment limit of a class IV wallet is 2000.00 CNY; payment 2000.01 CNY");
  p.amount_minor = 0;
  CHECK(check_payment(default_limits(), p).code() == status_code::amount_invalid);
}

TEST_CASE("the calendar day follows the bank's zone", "[bank][limits]") {
  constexpr std::int64_t k_2026_01_01 = 20'454;  // days since 1970-01-01
  const std::int64_t midnight_utc_us = k_2026_01_01 * 86'400'000'000;
  CHECK(local_day(midnight_utc_us, 0) == k_2026_01_01);
  CHECK(local_day(midnight_utc_us - 1, 0) == k_2026_01_01 - 1);
  // Beijing's midnight is 16:00 UTC the day before.
  const std::int64_t beijing_midnight_us = midnight_utc_us - 8 * 3'600'000'000;
  CHECK(local_day(beijing_midnight_us, 480) == k_2026_01_01);
  CHECK(local_day(beijing_midnight_us - 1, 480) == k_2026_01_01 - 1);
  CHECK(local_day(-1, 0) == -1);
  CHECK(parse_class("IV").value() == wallet_class::iv);
  CHECK(parse_class("2").value() == wallet_class::ii);
  CHECK(parse_class("V").code() == status_code::parse_error);
}
