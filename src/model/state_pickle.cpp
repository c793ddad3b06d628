// Strict pickle interpreter for state dicts and TorchScript module trees. Written from the pickle
// protocol description (CPython's Lib/pickletools.py documents every opcode),
// torch/serialization.py's storage ids and the object layout torch.jit.save writes (a module is
// GLOBAL '__torch__.<class>', EMPTY_TUPLE, NEWOBJ, then BUILD with its attribute dict).
#include "model/state_pickle.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

#include "core/error.h"

namespace fersweep::model::detail {
namespace {

struct Value;
using ValuePtr = std::shared_ptr<Value>;

/// A storage named by a persistent id: ('storage', torch.FloatStorage, key, location, numel).
struct StorageRef {
  std::string key;
  c10::ScalarType dtype = c10::ScalarType::Float;
  std::int64_t numel = 0;
};

/// A tensor as _rebuild_tensor_v2 describes it; materialised once its key is known.
struct TensorRef {
  std::shared_ptr<StorageRef> storage;
  std::int64_t offset = 0;
  std::vector<std::int64_t> sizes, strides;
};

struct Value {
  enum class Kind {
    none,
    boolean,
    integer,
    string,
    tuple,
    list,
    dict,
    global,
    storage,
    tensor,
    object
  };
  Kind kind = Kind::none;
  bool b = false;
  std::int64_t i = 0;
  std::string s;                                       // string; global, object: class name
  std::vector<ValuePtr> items;                         // tuple, list
  std::vector<std::pair<ValuePtr, ValuePtr>> entries;  // dict, object attributes: in order
  bool built = false;                                  // object: BUILD has set its attributes
  std::shared_ptr<StorageRef> storage;
  std::shared_ptr<TensorRef> tensor;
};

const char* kind_name(Value::Kind k) {
  switch (k) {
    case Value::Kind::none:
      return "None";
    case Value::Kind::boolean:
      return "bool";
    case Value::Kind::integer:
      return "int";
    case Value::Kind::string:
      return "str";
    case Value::Kind::tuple:
      return "tuple";
    case Value::Kind::list:
      return "list";
    case Value::Kind::dict:
      return "dict";
    case Value::Kind::global:
      return "global";
    case Value::Kind::storage:
      return "storage";
    case Value::Kind::tensor:
      return "tensor";
    case Value::Kind::object:
      return "object";
  }
  return "?";
}

ValuePtr make(Value::Kind k) {
  auto v = std::make_shared<Value>();
  v->kind = k;
  return v;
}

/// Names of opcodes we refuse, so the error says which construct the file used.
const char* opcode_name(unsigned char op) {
  static const std::map<unsigned char, const char*> names = {
      {'G', "BINFLOAT"},
      {'F', "FLOAT"},
      {'I', "INT"},
      {'L', "LONG"},
      {0x8b, "LONG4"},
      {'S', "STRING"},
      {'T', "BINSTRING"},
      {'U', "SHORT_BINSTRING"},
      {'V', "UNICODE"},
      {'d', "DICT"},
      {'l', "LIST"},
      {'i', "INST"},
      {'o', "OBJ"},
      {0x81, "NEWOBJ"},
      {0x92, "NEWOBJ_EX"},
      {0x82, "EXT1"},
      {0x83, "EXT2"},
      {0x84, "EXT4"},
      {'P', "PERSID"},
      {'g', "GET"},
      {'p', "PUT"},
      {'B', "BINBYTES"},
      {'C', "SHORT_BINBYTES"},
      {0x8e, "BINBYTES8"},
      {0x96, "BYTEARRAY8"},
      {0x8f, "EMPTY_SET"},
      {0x90, "ADDITEMS"},
      {0x91, "FROZENSET"},
      {0x97, "NEXT_BUFFER"},
      {0x98, "READONLY_BUFFER"},
      {'2', "DUP"},
  };
  auto it = names.find(op);
  return it == names.end() ? "unknown" : it->second;
}

bool storage_dtype(const std::string& name, c10::ScalarType& out) {
  static const std::map<std::string, c10::ScalarType> types = {
      {"FloatStorage", c10::ScalarType::Float}, {"DoubleStorage", c10::ScalarType::Double},
      {"HalfStorage", c10::ScalarType::Half},   {"BFloat16Storage", c10::ScalarType::BFloat16},
      {"LongStorage", c10::ScalarType::Long},   {"IntStorage", c10::ScalarType::Int},
      {"ShortStorage", c10::ScalarType::Short}, {"CharStorage", c10::ScalarType::Char},
      {"ByteStorage", c10::ScalarType::Byte},   {"BoolStorage", c10::ScalarType::Bool},
  };
  auto it = types.find(name);
  if (it == types.end()) return false;
  out = it->second;
  return true;
}

// A TorchScript module tree deeper than this, or with more module visits (shared submodules are
// visited once per name), is not a network we read.
constexpr int kMaxModuleDepth = 64;
constexpr std::size_t kMaxModuleVisits = 100000;

constexpr std::string_view kScriptClassPrefix = "__torch__.";

class Unpickler {
 public:
  enum class Format { state_dict, script_module };

  Unpickler(std::string_view data, const std::string& file, const StorageLoader& loader,
            Format format)
      : data_(data), file_(file), loader_(loader), format_(format) {}

  // A pickle can make a value contain itself (e.g. a list DUPed and APPENDed to itself), a
  // shared_ptr cycle: empty every container made here so that nothing outlives the reader.
  ~Unpickler() {
    for (const auto& weak : created_) {
      if (const ValuePtr v = weak.lock()) {
        v->items.clear();
        v->entries.clear();
      }
    }
  }
  Unpickler(const Unpickler&) = delete;
  Unpickler& operator=(const Unpickler&) = delete;

  StateDict run() {
    const ValuePtr root = interpret();
    if (format_ == Format::state_dict) return to_state_dict(root);
    if (root->kind != Value::Kind::object)
      fail(fmt::format("TorchScript data.pkl holds a pickled {}, not a module",
                       kind_name(root->kind)));
    StateDict out;
    std::vector<const Value*> path;
    collect_module(*root, "", path, out);
    return out;
  }

 private:
  // Hides the free function inside the class: every value the reader makes is tracked.
  ValuePtr make(Value::Kind k) {
    ValuePtr v = ::fersweep::model::detail::make(k);
    created_.push_back(v);
    return v;
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw ModelError(fmt::format("{}: {}", file_, what));
  }
  [[noreturn]] void fail_at(std::size_t offset, const std::string& what) const {
    fail(fmt::format("data.pkl byte {}: {}", offset, what));
  }
  [[noreturn]] void fail_unsupported(unsigned char op) const {
    fail_at(op_pos_, fmt::format("unsupported pickle opcode 0x{:02x} ({}); a state dict file "
                                 "holds only tensors under string keys",
                                 op, opcode_name(op)));
  }

  // --- byte reading, every read bounds-checked ---
  const char* take(std::size_t n) {
    if (n > data_.size() - pos_) fail_at(pos_, "pickle ends early (file truncated?)");
    const char* p = data_.data() + pos_;
    pos_ += n;
    return p;
  }
  std::uint64_t read_le(std::size_t n) {
    const auto* p = reinterpret_cast<const unsigned char*>(take(n));
    std::uint64_t v = 0;
    for (std::size_t k = 0; k < n; ++k) v |= static_cast<std::uint64_t>(p[k]) << (8 * k);
    return v;
  }
  std::string read_line() {
    const std::size_t start = pos_;
    const std::size_t nl = data_.find('\n', pos_);
    if (nl == std::string_view::npos || nl - start > 256) fail_at(start, "malformed GLOBAL name");
    pos_ = nl + 1;
    return std::string(data_.substr(start, nl - start));
  }
  std::string read_string(std::uint64_t n) { return std::string(take(n), n); }

  // --- the stack ---
  ValuePtr pop() {
    if (stack_.size() <= floor()) fail_at(op_pos_, "stack underflow");
    ValuePtr v = stack_.back();
    stack_.pop_back();
    return v;
  }
  ValuePtr& top() {
    if (stack_.size() <= floor()) fail_at(op_pos_, "stack underflow");
    return stack_.back();
  }
  std::size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  std::vector<ValuePtr> pop_mark() {
    if (marks_.empty()) fail_at(op_pos_, "no MARK on the stack");
    const std::size_t m = marks_.back();
    marks_.pop_back();
    std::vector<ValuePtr> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  void memo_put(std::uint64_t index) { memo_[index] = top(); }
  void memo_get(std::uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) fail_at(op_pos_, fmt::format("memo entry {} was never stored", index));
    stack_.push_back(it->second);
  }
  ValuePtr tuple_of(std::vector<ValuePtr> items) {
    ValuePtr t = make(Value::Kind::tuple);
    t->items = std::move(items);
    return t;
  }
  void set_items(ValuePtr& dict, const std::vector<ValuePtr>& kv) {
    if (dict->kind != Value::Kind::dict)
      fail_at(op_pos_, fmt::format("SETITEM(S) on a {}", kind_name(dict->kind)));
    if (kv.size() % 2 != 0) fail_at(op_pos_, "SETITEMS with an odd number of items");
    for (std::size_t k = 0; k < kv.size(); k += 2) dict->entries.emplace_back(kv[k], kv[k + 1]);
  }

  ValuePtr make_global(const std::string& module, const std::string& name) {
    const std::string full = module + "." + name;
    c10::ScalarType unused;
    const bool script = format_ == Format::script_module;
    const bool allowed =
        full == "collections.OrderedDict" || full == "builtins.dict" ||
        full == "torch._utils._rebuild_tensor_v2" || full == "torch._utils._rebuild_parameter" ||
        (module == "torch" && storage_dtype(name, unused)) ||
        // TorchScript: module classes (only ever instantiated empty, never called) and the
        // helpers that tag typed lists.
        (script && full.rfind(kScriptClassPrefix, 0) == 0) ||
        (script && module == "torch.jit._pickle" &&
         (name == "build_intlist" || name == "build_doublelist" || name == "build_boollist" ||
          name == "build_tensorlist" || name == "build_genericlist" || name == "restore_type_tag"));
    if (!allowed)
      fail_at(op_pos_, fmt::format("unsupported global '{}' (not part of a state dict)", full));
    ValuePtr g = make(Value::Kind::global);
    g->s = full;
    return g;
  }

  std::int64_t as_int(const ValuePtr& v, const char* what) {
    if (v->kind != Value::Kind::integer)
      fail_at(op_pos_, fmt::format("{} is a {}, expected an int", what, kind_name(v->kind)));
    return v->i;
  }
  std::vector<std::int64_t> as_int_tuple(const ValuePtr& v, const char* what) {
    if (v->kind != Value::Kind::tuple)
      fail_at(op_pos_, fmt::format("{} is a {}, expected a tuple", what, kind_name(v->kind)));
    std::vector<std::int64_t> out;
    for (const auto& x : v->items) out.push_back(as_int(x, what));
    return out;
  }

  ValuePtr persistent_load(const ValuePtr& pid) {
    if (pid->kind != Value::Kind::tuple || pid->items.size() != 5 ||
        pid->items[0]->kind != Value::Kind::string || pid->items[0]->s != "storage" ||
        pid->items[1]->kind != Value::Kind::global || pid->items[2]->kind != Value::Kind::string)
      fail_at(op_pos_,
              "persistent id is not a torch storage ('storage', type, key, location, "
              "numel)");
    const std::string& type = pid->items[1]->s;
    c10::ScalarType dtype;
    if (type.rfind("torch.", 0) != 0 || !storage_dtype(type.substr(6), dtype))
      fail_at(op_pos_, fmt::format("unsupported storage type '{}'", type));
    const std::string& key = pid->items[2]->s;
    const std::int64_t numel = as_int(pid->items[4], "storage size");
    if (numel < 0) fail_at(op_pos_, fmt::format("storage '{}' has negative size", key));
    auto& ref = storages_[key];
    if (!ref) {
      ref = std::make_shared<StorageRef>();
      ref->key = key;
      ref->dtype = dtype;
      ref->numel = numel;
    } else if (ref->dtype != dtype || ref->numel != numel) {
      fail_at(op_pos_, fmt::format("storage '{}' is declared twice with different types", key));
    }
    ValuePtr v = make(Value::Kind::storage);
    v->storage = ref;
    return v;
  }

  ValuePtr reduce(const ValuePtr& callable, const ValuePtr& args) {
    if (callable->kind != Value::Kind::global || args->kind != Value::Kind::tuple)
      fail_at(op_pos_, "REDUCE needs a global and an argument tuple");
    const std::string& f = callable->s;
    const auto& a = args->items;
    if (f == "collections.OrderedDict" || f == "builtins.dict") {
      if (!a.empty()) fail_at(op_pos_, fmt::format("{} called with arguments", f));
      return make(Value::Kind::dict);
    }
    if (f == "torch._utils._rebuild_tensor_v2") {
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
      if (a.size() < 6 || a.size() > 7 || a[0]->kind != Value::Kind::storage)
        fail_at(op_pos_, "malformed _rebuild_tensor_v2 call");
      auto t = std::make_shared<TensorRef>();
      t->storage = a[0]->storage;
      t->offset = as_int(a[1], "tensor offset");
      t->sizes = as_int_tuple(a[2], "tensor size");
      t->strides = as_int_tuple(a[3], "tensor stride");
      if (t->sizes.size() != t->strides.size())
        fail_at(op_pos_, "tensor size and stride have different lengths");
      ValuePtr v = make(Value::Kind::tensor);
      v->tensor = t;
      return v;
    }
    if (f == "torch._utils._rebuild_parameter") {
      // (data, requires_grad, backward_hooks): a Parameter is its tensor for our purposes.
      if (a.size() != 3 || a[0]->kind != Value::Kind::tensor)
        fail_at(op_pos_, "malformed _rebuild_parameter call");
      return a[0];
    }
    if (f.rfind("torch.jit._pickle.", 0) == 0) {
      // build_*list(list) and restore_type_tag(value, type): the value, typed for TorchScript.
      if (a.empty() || a.size() > 2) fail_at(op_pos_, fmt::format("malformed {} call", f));
      return a[0];
    }
    fail_at(op_pos_, fmt::format("'{}' cannot be called", f));
  }

  // NEWOBJ in a TorchScript pickle: an empty instance of a module class, filled by BUILD.
  ValuePtr new_object(const ValuePtr& cls, const ValuePtr& args) {
    if (cls->kind != Value::Kind::global || cls->s.rfind(kScriptClassPrefix, 0) != 0)
      fail_at(op_pos_, "NEWOBJ of something that is not a TorchScript class");
    if (args->kind != Value::Kind::tuple || !args->items.empty())
      fail_at(op_pos_, fmt::format("NEWOBJ of {} with arguments", cls->s));
    ValuePtr obj = make(Value::Kind::object);
    obj->s = cls->s;
    return obj;
  }

  void build_object(Value& obj, const Value& state) {
    if (obj.built) fail_at(op_pos_, fmt::format("BUILD twice on one {} object", obj.s));
    if (state.kind != Value::Kind::dict)
      fail_at(op_pos_, fmt::format("{} object is built from a {}, not an attribute dict "
                                   "(custom __setstate__ is not supported)",
                                   obj.s, kind_name(state.kind)));
    for (const auto& [k, v] : state.entries)
      if (k->kind != Value::Kind::string)
        fail_at(op_pos_,
                fmt::format("{} object has a {} attribute name", obj.s, kind_name(k->kind)));
    obj.entries = state.entries;
    obj.built = true;
  }

  ValuePtr interpret() {
    while (true) {
      op_pos_ = pos_;
      const auto op = static_cast<unsigned char>(*take(1));
      switch (op) {
        case 0x80:  // PROTO
        {
          const auto proto = read_le(1);
          if (proto < 2 || proto > 5)
            fail_at(op_pos_, fmt::format("unsupported pickle protocol {}", proto));
          break;
        }
        case 0x95:  // FRAME: a length prefix for buffering, nothing to interpret
          read_le(8);
          break;
        case '.':  // STOP
          if (stack_.size() != 1 || !marks_.empty())
            fail_at(op_pos_, "pickle stops with a malformed stack");
          return stack_.back();
        case '(':  // MARK
          marks_.push_back(stack_.size());
          break;
        case '0':  // POP
          pop();
          break;
        case '1':  // POP_MARK
          pop_mark();
          break;
        case 'N':
          stack_.push_back(make(Value::Kind::none));
          break;
        case 0x88:  // NEWTRUE
        case 0x89:  // NEWFALSE
        {
          ValuePtr v = make(Value::Kind::boolean);
          v->b = op == 0x88;
          stack_.push_back(v);
          break;
        }
        case 'K':  // BININT1
        case 'M':  // BININT2
        case 'J':  // BININT
        {
          ValuePtr v = make(Value::Kind::integer);
          if (op == 'K') v->i = static_cast<std::int64_t>(read_le(1));
          if (op == 'M') v->i = static_cast<std::int64_t>(read_le(2));
          if (op == 'J') v->i = static_cast<std::int32_t>(static_cast<std::uint32_t>(read_le(4)));
          stack_.push_back(v);
          break;
        }
        case 0x8a:  // LONG1: little-endian two's complement of n bytes
        {
          const auto n = read_le(1);
          if (n > 8) fail_at(op_pos_, "integer wider than 64 bits");
          std::uint64_t raw = n == 0 ? 0 : read_le(n);
          if (n > 0 && n < 8 && (raw >> (8 * n - 1)) & 1u) raw |= ~std::uint64_t{0} << (8 * n);
          ValuePtr v = make(Value::Kind::integer);
          v->i = static_cast<std::int64_t>(raw);
          stack_.push_back(v);
          break;
        }
        case 'X':     // BINUNICODE
        case 0x8c:    // SHORT_BINUNICODE
        case 0x8d: {  // BINUNICODE8
          const std::uint64_t n = read_le(op == 'X' ? 4 : op == 0x8c ? 1 : 8);
          ValuePtr v = make(Value::Kind::string);
          v->s = read_string(n);
          stack_.push_back(v);
          break;
        }
        case ')':
          stack_.push_back(tuple_of({}));
          break;
        case 't':
          stack_.push_back(tuple_of(pop_mark()));
          break;
        case 0x85:  // TUPLE1..3
        case 0x86:
        case 0x87: {
          const std::size_t n = op - 0x84u;
          std::vector<ValuePtr> items(n);
          for (std::size_t k = n; k-- > 0;) items[k] = pop();
          stack_.push_back(tuple_of(std::move(items)));
          break;
        }
        case ']':  // EMPTY_LIST
          stack_.push_back(make(Value::Kind::list));
          break;
        case 'a':  // APPEND
        {
          ValuePtr v = pop();
          ValuePtr& l = top();
          if (l->kind != Value::Kind::list) fail_at(op_pos_, "APPEND to a non-list");
          l->items.push_back(v);
          break;
        }
        case 'e':  // APPENDS
        {
          auto items = pop_mark();
          ValuePtr& l = top();
          if (l->kind != Value::Kind::list) fail_at(op_pos_, "APPENDS to a non-list");
          l->items.insert(l->items.end(), items.begin(), items.end());
          break;
        }
        case '}':  // EMPTY_DICT
          stack_.push_back(make(Value::Kind::dict));
          break;
        case 's': {  // SETITEM
          ValuePtr v = pop();
          ValuePtr k = pop();
          set_items(top(), {k, v});
          break;
        }
        case 'u': {  // SETITEMS
          auto kv = pop_mark();
          set_items(top(), kv);
          break;
        }
        case 'c': {  // GLOBAL
          const std::string module = read_line();
          const std::string name = read_line();
          stack_.push_back(make_global(module, name));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          ValuePtr name = pop();
          ValuePtr module = pop();
          if (name->kind != Value::Kind::string || module->kind != Value::Kind::string)
            fail_at(op_pos_, "STACK_GLOBAL needs two strings");
          stack_.push_back(make_global(module->s, name->s));
          break;
        }
        case 'R': {  // REDUCE
          ValuePtr args = pop();
          ValuePtr callable = pop();
          stack_.push_back(reduce(callable, args));
          break;
        }
        case 'b': {  // BUILD: OrderedDict state ({"_metadata": ...}) carries nothing we need
          ValuePtr state = pop();
          ValuePtr& obj = top();
          if (obj->kind == Value::Kind::object) {
            build_object(*obj, *state);
            break;
          }
          if (obj->kind != Value::Kind::dict)
            fail_at(op_pos_, fmt::format("BUILD on a {}", kind_name(obj->kind)));
          break;
        }
        case 0x81: {  // NEWOBJ
          if (format_ != Format::script_module) fail_unsupported(op);
          ValuePtr args = pop();
          ValuePtr cls = pop();
          stack_.push_back(new_object(cls, args));
          break;
        }
        case 'Q': {  // BINPERSID
          ValuePtr pid = pop();
          stack_.push_back(persistent_load(pid));
          break;
        }
        case 'q':  // BINPUT
          memo_put(read_le(1));
          break;
        case 'r':  // LONG_BINPUT
          memo_put(read_le(4));
          break;
        case 0x94:  // MEMOIZE
          memo_put(memo_.size());
          break;
        case 'h':  // BINGET
          memo_get(read_le(1));
          break;
        case 'j':  // LONG_BINGET
          memo_get(read_le(4));
          break;
        default:
          fail_unsupported(op);
      }
    }
  }

  at::Tensor storage_tensor(const StorageRef& ref) {
    auto it = loaded_.find(ref.key);
    if (it != loaded_.end()) return it->second;
    const at::Tensor bytes = loader_(ref.key);
    const std::int64_t elem = static_cast<std::int64_t>(c10::elementSize(ref.dtype));
    std::int64_t need = 0;
    if (__builtin_mul_overflow(ref.numel, elem, &need) || bytes.numel() != need)
      fail(
          fmt::format("storage record data/{} holds {} bytes, but the pickle declares {} "
                      "elements of {} bytes",
                      ref.key, bytes.numel(), ref.numel, elem));
    at::Tensor typed = bytes.view(ref.dtype);
    loaded_.emplace(ref.key, typed);
    return typed;
  }

  at::Tensor materialise(const std::string& key, const TensorRef& t) {
    // The highest element the view touches must lie inside the storage: a file declaring a
    // larger tensor than its storage would otherwise read out of bounds.
    std::int64_t last = t.offset;
    bool empty = false;
    for (std::size_t d = 0; d < t.sizes.size(); ++d) {
      if (t.sizes[d] < 0 || t.strides[d] < 0)
        fail(fmt::format("tensor '{}' has a negative size or stride", key));
      if (t.sizes[d] == 0) empty = true;
      std::int64_t span = 0;
      if (t.sizes[d] > 0 && (__builtin_mul_overflow(t.sizes[d] - 1, t.strides[d], &span) ||
                             __builtin_add_overflow(last, span, &last)))
        fail(fmt::format("tensor '{}' has a size overflowing 64 bits", key));
    }
    if (t.offset < 0) fail(fmt::format("tensor '{}' has a negative storage offset", key));
    const std::int64_t needed = empty ? 0 : last + 1;
    if (needed > t.storage->numel)
      fail(
          fmt::format("tensor '{}' declares size [{}] (stride [{}], offset {}) needing {} "
                      "elements, but its storage data/{} holds only {}",
                      key, fmt::join(t.sizes, ", "), fmt::join(t.strides, ", "), t.offset, needed,
                      t.storage->key, t.storage->numel));
    at::Tensor storage = storage_tensor(*t.storage);
    return storage.as_strided(t.sizes, t.strides, t.offset);
  }

  StateDict to_state_dict(ValuePtr root) {
    if (root->kind != Value::Kind::dict)
      fail(fmt::format("holds a pickled {}, not a state dict", kind_name(root->kind)));
    // Training checkpoints often wrap the weights: {"state_dict": {...}, "epoch": ...}.
    for (const auto& [k, v] : root->entries)
      if (k->kind == Value::Kind::string && (k->s == "state_dict" || k->s == "model") &&
          v->kind == Value::Kind::dict)
        return to_state_dict(v);
    StateDict out;
    for (const auto& [k, v] : root->entries) {
      if (k->kind != Value::Kind::string)
        fail(fmt::format("has a {} key; state dict keys are strings", kind_name(k->kind)));
      if (v->kind != Value::Kind::tensor)
        fail(fmt::format("entry '{}' is a {}, not a tensor", k->s, kind_name(v->kind)));
      out.emplace_back(k->s, materialise(k->s, *v->tensor));
    }
    return out;
  }

  // A module's tensors in nn.Module.state_dict order: its own tensor attributes (parameters, then
  // buffers: the order TorchScript declares them), then each submodule's, depth first. Other
  // attributes (flags, hyperparameters, None for an absent bias) are not state.
  void collect_module(const Value& m, const std::string& prefix, std::vector<const Value*>& path,
                      StateDict& out) {
    const std::string where = prefix.empty()
                                  ? "the top-level module"
                                  : "module '" + prefix.substr(0, prefix.size() - 1) + "'";
    if (!m.built) fail(fmt::format("TorchScript {} ({}) has no attributes", where, m.s));
    if (std::find(path.begin(), path.end(), &m) != path.end())
      fail(fmt::format("TorchScript {} ({}) contains itself", where, m.s));
    if (static_cast<int>(path.size()) >= kMaxModuleDepth)
      fail(fmt::format("TorchScript modules are nested more than {} deep at {}", kMaxModuleDepth,
                       where));
    if (++module_visits_ > kMaxModuleVisits)
      fail(fmt::format("TorchScript archive has more than {} modules", kMaxModuleVisits));
    path.push_back(&m);
    for (const auto& [k, v] : m.entries)
      if (v->kind == Value::Kind::tensor) {
        const std::string key = prefix + k->s;
        out.emplace_back(key, materialise(key, *v->tensor));
      }
    for (const auto& [k, v] : m.entries)
      if (v->kind == Value::Kind::object) collect_module(*v, prefix + k->s + ".", path, out);
    path.pop_back();
  }

  std::string_view data_;
  const std::string& file_;
  const StorageLoader& loader_;
  Format format_;
  std::size_t module_visits_ = 0;
  std::size_t pos_ = 0;
  std::size_t op_pos_ = 0;
  std::vector<ValuePtr> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint64_t, ValuePtr> memo_;
  std::map<std::string, std::shared_ptr<StorageRef>> storages_;
  std::map<std::string, at::Tensor> loaded_;
  std::vector<std::weak_ptr<Value>> created_;
};

}  // namespace

StateDict unpickle_state_dict(std::string_view pickle, const std::string& file,
                              const StorageLoader& load_storage) {
  return Unpickler(pickle, file, load_storage, Unpickler::Format::state_dict).run();
}

StateDict unpickle_script_module(std::string_view pickle, const std::string& file,
                                 const StorageLoader& load_storage) {
  return Unpickler(pickle, file, load_storage, Unpickler::Format::script_module).run();
}

}  // namespace fersweep::model::detail
