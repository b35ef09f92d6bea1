// Merchants' signed payment requests (cbdc: URIs).
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
  // A plus is a plus (encoded, so no reader takes it for a space), and any byte round-trips.
  const std::string odd = "1+1=2 %/?#\xe4\xb8\xad";
  auto plus = wallet::make_request(shop, money{1, currency::cny}, odd, 2'000'000'000);
  REQUIRE(plus.ok());
  CHECK(plus->to_uri().find("&ref=1%2B1%3D2%20%25%2F%3F%23%E4%B8%AD&") != std::string::npos);
  CHECK(wallet::parse_request(plus->to_uri(), 0)->reference == odd);
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
  CHECK(wallet::parse_request("cbdc:pay?ref=%zz", 0).code() == status_code::malformed);
  CHECK(wallet::parse_request("cbdc:pay?ref=a b", 0).code() == status_code::malformed);
  CHECK(wallet::parse_request("cbdc:pay?ref", 0).code() == status_code::malformed);
  CHECK(wallet::make_request(shop, money{0, currency::hkd}, "x", 1).code() ==
        status_code::amount_invalid);
  CHECK(wallet::make_request(shop, money{1, currency::hkd}, std::string(65, 'x'), 1).code() ==
        status_code::too_large);
}
