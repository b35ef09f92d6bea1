// QR codes as SVG (wallet/qr.hpp).
#include "wallet/qr.hpp"

#include <qrencode.h>

#include <cerrno>
#include <memory>
#include <sstream>

namespace cbdc::wallet {

auto qr_svg(const std::string& text, const std::string& label) -> result<std::string> {
  std::unique_ptr<QRcode, void (*)(QRcode*)> code(
      QRcode_encodeString(text.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1), QRcode_free);
  if (!code) {
    return error{errno == ERANGE ? status_code::too_large : status_code::internal,
                 "cannot encode the QR code"};
  }
  const int width = code->width;
  constexpr int k_quiet = 4;  // modules of white border, as the standard asks
  const int size = width + 2 * k_quiet;
  std::ostringstream svg;
  svg << "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 " << size << ' ' << size
      << "' shape-rendering='crispEdges' role='img' aria-label='" << label << "'>"
      << "<rect width='" << size << "' height='" << size << "' fill='#fff'/><path fill='#000' d='";
  for (int y = 0; y < width; ++y) {
    for (int x = 0; x < width; ++x) {
      if ((code->data[y * width + x] & 1U) != 0) {
        svg << 'M' << (x + k_quiet) << ' ' << (y + k_quiet) << "h1v1h-1z";
      }
    }
  }
  svg << "'/></svg>";
  return svg.str();
}

}  // namespace cbdc::wallet
