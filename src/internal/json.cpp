#include "internal/json.h"

#include <string>
#include <utility>
#include <vector>

namespace tokenpass::internal {
namespace {

using json = nlohmann::json;

// Builds a json value from SAX events, refusing duplicates and enforcing limits.
class StrictBuilder {
 public:
  explicit StrictBuilder(const JsonLimits& limits) : limits_(limits) {}

  bool null() { return add(json(nullptr)); }
  bool boolean(bool v) { return add(json(v)); }
  bool number_integer(json::number_integer_t v) { return add(json(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return add(json(v)); }
  bool number_float(json::number_float_t v, const json::string_t& /*raw*/) {
    return add(json(v));
  }
  bool string(json::string_t& v) {
    if (v.size() > limits_.max_string) return fail(errc::too_large, "JSON string too long");
    return add(json(std::move(v)));
  }
  bool binary(json::binary_t& /*v*/) { return fail(errc::malformed, "binary value"); }
  bool start_object(std::size_t /*n*/) { return open(json::object()); }
  bool end_object() { return close(); }
  bool start_array(std::size_t /*n*/) { return open(json::array()); }
  bool end_array() { return close(); }
  bool key(json::string_t& k) {
    if (k.size() > limits_.max_string) return fail(errc::too_large, "JSON member name too long");
    json& top = *stack_.back();
    if (top.contains(k)) return fail(errc::malformed, "duplicate JSON member name");
    if (top.size() >= limits_.max_members) return fail(errc::too_large, "too many JSON members");
    key_ = std::move(k);
    return true;
  }
  bool parse_error(std::size_t /*pos*/, const std::string& /*token*/,
                   const nlohmann::detail::exception& /*ex*/) {
    if (!error_) error_ = make_error(errc::malformed, "invalid JSON");
    return false;
  }

  json take() { return std::move(root_); }
  const std::optional<Error>& error() const { return error_; }

 private:
  bool fail(errc code, std::string_view why) {
    error_ = make_error(code, why);
    return false;
  }
  // add places `v` in the open container (or as the root) and returns whether the
  // limits allow it; `slot` receives where it went.
  bool add(json v, json** slot = nullptr) {
    json* where = nullptr;
    if (stack_.empty()) {
      root_ = std::move(v);
      where = &root_;
    } else {
      json& top = *stack_.back();
      if (top.is_object()) {
        auto& obj = top.get_ref<json::object_t&>();
        where = &obj.emplace(std::move(key_), std::move(v)).first->second;
      } else {
        auto& arr = top.get_ref<json::array_t&>();
        if (arr.size() >= limits_.max_members) {
          return fail(errc::too_large, "too many JSON array elements");
        }
        arr.push_back(std::move(v));
        where = &arr.back();
      }
    }
    if (slot != nullptr) *slot = where;
    return true;
  }
  bool open(json container) {
    if (stack_.size() >= limits_.max_depth) return fail(errc::too_large, "JSON nested too deeply");
    json* slot = nullptr;
    if (!add(std::move(container), &slot)) return false;
    // Pointers stay valid: a parent array only grows after this child is closed.
    stack_.push_back(slot);
    return true;
  }
  bool close() {
    stack_.pop_back();
    return true;
  }

  const JsonLimits& limits_;
  json root_;
  std::vector<json*> stack_;
  std::string key_;
  std::optional<Error> error_;
};

}  // namespace

Result<nlohmann::json> parse_json(std::string_view text, const JsonLimits& limits) {
  StrictBuilder builder(limits);
  bool ok = false;
  try {
    ok = json::sax_parse(text.begin(), text.end(), &builder, json::input_format_t::json, true);
  } catch (const std::exception&) {
    // sax_parse reports syntax errors through parse_error; anything thrown here is
    // a resource failure, reported the same way rather than escaping.
    ok = false;
  }
  if (!ok) {
    if (builder.error()) return *builder.error();
    return make_error(errc::malformed, "invalid JSON");
  }
  return builder.take();
}

}  // namespace tokenpass::internal
