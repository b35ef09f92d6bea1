#include <catch2/catch.hpp>

#include "wallet/request.hpp"

using namespace cbdc;

TEST_CASE("a payment request round-trips through its cbdc URI", "[wallet][request]") {
  const auto shop = key_pair::from_seed(profile::ed25519, indexed_seed(1, 0x55));
  auto req = wallet::make_request(shop, money{1234, currency::cny}, "table 7 & tip", 2'000'000'000);
  REQUIRE(req.ok());
  const auto uri = req->to_uri();
  CHECK(uri.rfind("cbdc:pay?v=1&merchant=", 0) == 0);
  CHECK(uri.find("&amount=12.34&currency=CNY&ref=table%207%20%26%20tip&exp=2000000000&sig=") !=
        std::string::npos);
  auto back = wallet::parse_request(uri, 1'900'000'000);
  REQUIRE(back.ok());
  CHECK(back->merchant == shop.pub());
  CHECK(back->amount == money{1234, currency::cny});
  CHECK(back->reference == "table 7 & tip");
}

TEST_CASE("payment requests refuse tampering expiry and garbage", "[wallet][request]") {
  const auto shop = key_pair::from_seed(profile::sm2, indexed_seed(1, 0x55));
  const auto uri = wallet::make_request(shop, money{500, currency::hkd}, "r1", 100)->to_uri();
  CHECK(wallet::parse_request(uri, 100).ok());
  CHECK(wallet::parse_request(uri, 101).code() == status_code::request_expired);
  auto tampered = uri;
  tampered.replace(tampered.find("amount=5.00"), 11, "amount=6.00");
  CHECK(wallet::parse_request(tampered, 0).code() == status_code::bad_signature);
  CHECK(wallet::parse_request("https://example.com", 0).code() == status_code::malformed);
  CHECK(wallet::parse_request("cbdc:pay?v=1", 0).code() == status_code::malformed);
  CHECK(wallet::parse_request(uri + "&v=1", 0).code() == status_code::malformed);
  CHECK(wallet::parse_request("cbdc:pay?ref=%4", 0).code() == status_code::malformed);
  CHECK(wallet::make_request(shop, money{0, currency::hkd}, "x", 1).code() ==
        status_code::amount_invalid);
  CHECK(wallet::make_request(shop, money{1, currency::hkd}, std::string(65, 'x'), 1).code() ==
        status_code::too_large);
}
