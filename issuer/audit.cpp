// `cbdc-issuer audit`: the central bank's ledger against settlement's supply.
#include "issuer/audit.hpp"

namespace cbdc::issuer {

auto audit(issuer& iss, settlement::interface& settle, currency cur) -> result<audit_report> {
  audit_report report;
  report.cur = cur;
  auto minted = iss.minted_total();
  if (!minted) {
    return minted.err();
  }
  auto supply = settle.supply(cur);
  if (!supply) {
    return supply.err();
  }
  report.minted_minor = *minted;
  report.issued_minor = supply->issued_minor;
  report.redeemed_minor = supply->redeemed_minor;
  report.unspent_minor = supply->unspent_minor;
  const auto fmt = [cur](std::int64_t v) { return money{v, cur}.format(); };
  if (report.issued_minor - report.redeemed_minor != report.unspent_minor) {
    report.problems.push_back("issued " + fmt(report.issued_minor) + " - redeemed " +
                              fmt(report.redeemed_minor) + " != unspent supply " +
                              fmt(report.unspent_minor));
  }
  auto ledger = iss.check_ledger();
  if (!ledger) {
    return ledger.err();
  }
  report.ledger_outstanding_minor = ledger->outstanding_minor;
  for (const auto& p : ledger->problems) {
    report.problems.push_back(p);
  }
  if (ledger->outstanding_minor != report.issued_minor - report.redeemed_minor) {
    report.problems.push_back("the reserve ledger counts " + fmt(ledger->outstanding_minor) +
                              " outstanding but settlement holds issued - redeemed = " +
                              fmt(report.issued_minor - report.redeemed_minor));
  }
  auto released = iss.released_clearances();
  if (!released) {
    return released.err();
  }
  for (const auto& [clearance, tx] : *released) {
    auto settled = settle.get_tx(tx);
    if (settled) {
      report.problems.push_back("clearance " + clearance + " was released but its payment " +
                                tx.hex() + " settled: its amount escaped the day's caps");
    } else if (settled.err().code != status_code::not_found) {
      return settled.err();
    }
  }
  if (report.minted_minor != report.issued_minor) {
    report.problems.push_back("the issuer minted " + fmt(report.minted_minor) +
                              " but settlement holds " + fmt(report.issued_minor) + " as issued");
  }
  return report;
}

}  // namespace cbdc::issuer
