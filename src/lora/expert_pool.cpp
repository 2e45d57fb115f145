#include "modelswarm/lora/expert_pool.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <map>
#include <memory>

#include "modelswarm/common/error.h"
#include "modelswarm/formats/hf_cache.h"
#include "modelswarm/formats/safetensors.h"

namespace modelswarm::lora {
namespace fs = std::filesystem;

PoolLayout::PoolLayout(std::vector<ModuleSlot> slots) : slots_(std::move(slots)) {
  int64_t offset = 0;
  for (size_t i = 0; i < slots_.size(); ++i) {
    auto& s = slots_[i];
    TORCH_CHECK(s.rank > 0 && s.in_features > 0 && s.out_features > 0, "module ", s.name, " has an empty shape");
    s.a_offset = offset;
    s.b_offset = offset + s.rank * s.in_features;
    offset = s.end();
    index_.emplace_back(s.name, i);
  }
  dim_ = offset;
  std::sort(index_.begin(), index_.end());
  for (size_t i = 1; i < index_.size(); ++i)
    if (index_[i].first == index_[i - 1].first) throw Error(cat("pool layout: module ", index_[i].first, " appears twice"));
}

const ModuleSlot* PoolLayout::find(const std::string& name) const {
  auto it = std::lower_bound(index_.begin(), index_.end(), std::make_pair(name, size_t(0)));
  return it != index_.end() && it->first == name ? &slots_[it->second] : nullptr;
}

at::Tensor PoolLayout::a_view(const at::Tensor& flat, const ModuleSlot& s) const {
  TORCH_CHECK(flat.size(-1) == dim_, "particle tensor has ", flat.size(-1), " numbers per particle, layout has ", dim_);
  auto sizes = flat.sizes().vec();
  sizes.back() = s.rank;
  sizes.push_back(s.in_features);
  return flat.narrow(-1, s.a_offset, s.rank * s.in_features).view(sizes);  // (..., R, in)
}

at::Tensor PoolLayout::b_view(const at::Tensor& flat, const ModuleSlot& s) const {
  TORCH_CHECK(flat.size(-1) == dim_, "particle tensor has ", flat.size(-1), " numbers per particle, layout has ", dim_);
  auto sizes = flat.sizes().vec();
  sizes.back() = s.out_features;
  sizes.push_back(s.rank);
  return flat.narrow(-1, s.b_offset, s.out_features * s.rank).view(sizes);  // (..., out, R)
}

at::Tensor PoolLayout::flatten(const Adapter& adapter) const {
  at::Tensor row = at::zeros({dim_}, at::kFloat);
  for (const auto& m : adapter.modules) {
    const ModuleSlot* s = find(m.name);
    if (!s) throw Error(cat(adapter.directory.string(), ": module ", m.name, " is not in the pool layout"));
    const int64_t r = m.A.size(0);
    if (r > s->rank || m.A.size(1) != s->in_features || m.B.size(0) != s->out_features)
      throw Error(cat(adapter.directory.string(), ": module ", m.name, " has A ", m.A.sizes(), " and B ", m.B.sizes(),
                      ", the pool expects rank <= ", s->rank, ", in ", s->in_features, ", out ", s->out_features));
    // Zero rows of A beyond r and zero columns of B beyond r leave B·A unchanged.
    a_view(row, *s).narrow(0, 0, r).copy_(m.A);
    b_view(row, *s).narrow(1, 0, r).copy_(m.B * m.scaling);
  }
  return row;
}

std::vector<Module> PoolLayout::unflatten(const at::Tensor& row) const {
  TORCH_CHECK(row.dim() == 1, "unflatten expects one particle (D), got ", row.sizes());
  at::Tensor cpu = row.to(at::kCPU, at::kFloat);
  std::vector<Module> modules;
  modules.reserve(slots_.size());
  for (const auto& s : slots_) modules.push_back(Module{s.name, a_view(cpu, s).clone(), b_view(cpu, s).clone(), 1.0});
  return modules;
}

nlohmann::json PoolLayout::to_json() const {
  nlohmann::json modules = nlohmann::json::array();
  for (const auto& s : slots_)
    modules.push_back({{"name", s.name}, {"rank", s.rank}, {"in", s.in_features}, {"out", s.out_features},
                       {"a_offset", s.a_offset}, {"b_offset", s.b_offset}});
  return {{"dim", dim_}, {"modules", modules}};
}

PoolLayout PoolLayout::from_json(const nlohmann::json& json) {
  std::vector<ModuleSlot> slots;
  try {
    for (const auto& m : json.at("modules"))
      slots.push_back(ModuleSlot{m.at("name").get<std::string>(), m.at("rank").get<int64_t>(), m.at("in").get<int64_t>(),
                                 m.at("out").get<int64_t>()});
  } catch (const nlohmann::json::exception& e) {
    throw Error(cat("pool layout: invalid JSON: ", e.what()));
  }
  PoolLayout layout(std::move(slots));
  if (json.contains("dim") && json["dim"] != layout.dim())
    throw Error(cat("pool layout: dim ", json["dim"].dump(), " does not match its modules (", layout.dim(), ")"));
  return layout;
}

// ---------------------------------------------------------------------------------------------

ExpertPool ExpertPool::load(const std::vector<fs::path>& directories, const BaseShapeLookup& base) {
  std::vector<Adapter> adapters;
  std::vector<std::string> names;
  for (const auto& d : directories) {
    adapters.push_back(read_adapter(d));
    names.push_back(hf::display_name(d));
  }
  return from_adapters(std::move(adapters), std::move(names), base);
}

ExpertPool ExpertPool::from_adapters(std::vector<Adapter> adapters, std::vector<std::string> names,
                                     const BaseShapeLookup& base) {
  if (adapters.empty()) throw Error("expert pool: no experts given");
  TORCH_CHECK(names.size() == adapters.size(), "one name per expert");

  // Align modules across experts: (in, out) must agree; the rank is the maximum.
  struct Seen {
    int64_t rank, in, out;
    size_t first_expert;
  };
  std::map<std::string, Seen> seen;
  const bool fan_in_fan_out = adapters.front().config.fan_in_fan_out;
  for (size_t e = 0; e < adapters.size(); ++e) {
    const Adapter& a = adapters[e];
    if (a.config.fan_in_fan_out != fan_in_fan_out)
      throw Error(cat(a.directory.string(), ": fan_in_fan_out differs from expert ", adapters.front().directory.string()));
    for (const auto& m : a.modules) {
      const int64_t in = m.A.size(1), out = m.B.size(0), r = m.A.size(0);
      auto [it, inserted] = seen.emplace(m.name, Seen{r, in, out, e});
      if (!inserted) {
        if (it->second.in != in || it->second.out != out)
          throw Error(cat(a.directory.string(), ": module ", m.name, " is ", out, "x", in, " but expert ",
                          adapters[it->second.first_expert].directory.string(), " has it ", it->second.out, "x",
                          it->second.in, " (experts of different base models?)"));
        it->second.rank = std::max(it->second.rank, r);
      }
      if (base) {
        const auto shape = base(m.name);
        if (!shape) throw Error(cat(a.directory.string(), ": module ", m.name, " does not exist in the base model"));
        // PEFT stores A (r, in), B (out, r) for a Linear weight (out, in); Conv1D (fan_in_fan_out) stores it (in, out).
        const auto [w_out, w_in] = fan_in_fan_out ? std::make_pair(shape->second, shape->first) : *shape;
        if (w_out != out || w_in != in)
          throw Error(cat(a.directory.string(), ": module ", m.name, " adapts a ", out, "x", in,
                          " weight but the base model's is ", w_out, "x", w_in));
      }
    }
  }
  std::vector<std::string> order;
  for (const auto& [name, s] : seen) order.push_back(name);
  std::sort(order.begin(), order.end(), module_order);
  std::vector<ModuleSlot> slots;
  for (const auto& name : order) {
    const auto& s = seen.at(name);
    slots.push_back(ModuleSlot{name, s.rank, s.in, s.out});
  }

  ExpertPool pool;
  pool.layout = PoolLayout(std::move(slots));
  std::vector<at::Tensor> rows;
  for (const auto& a : adapters) rows.push_back(pool.layout.flatten(a));
  pool.weights = at::stack(rows);  // (n, D)
  pool.names = std::move(names);
  pool.base_model_name_or_path = adapters.front().config.base_model_name_or_path;
  pool.fan_in_fan_out = fan_in_fan_out;
  pool.adapters = std::move(adapters);
  return pool;
}

BaseShapeLookup base_shapes_of(const std::filesystem::path& model_dir) {
  auto shapes = std::make_shared<std::map<std::string, std::pair<int64_t, int64_t>>>();
  const std::string suffix = ".weight";
  for (const auto& e : safetensors::checkpoint_entries(model_dir)) {
    if (e.shape.size() == 2 && e.name.size() > suffix.size() &&
        e.name.compare(e.name.size() - suffix.size(), suffix.size(), suffix) == 0)
      (*shapes)[e.name.substr(0, e.name.size() - suffix.size())] = {e.shape[0], e.shape[1]};
  }
  return [shapes](const std::string& module) -> std::optional<std::pair<int64_t, int64_t>> {
    auto it = shapes->find(module);
    if (it == shapes->end()) return std::nullopt;
    return it->second;
  };
}

}  // namespace modelswarm::lora
