// Base64 (RFC 4648) for binary artifacts carried inside JSON (task results, embedded report images).
#pragma once

#include <string>
#include <string_view>

namespace fersweep {

/// Encodes bytes as standard base64 with padding.
std::string base64_encode(std::string_view bytes);
/// Decodes standard base64; throws Error on a character outside the alphabet or bad padding.
std::string base64_decode(std::string_view text);

}  // namespace fersweep
