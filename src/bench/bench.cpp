// The bench's phases (bench/bench.h), each a function adding its figures to the report, then the
// comparisons between them, then the report as text or JSON.
#include "modelswarm/bench/bench.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>

#include "modelswarm/common/device.h"
#include "modelswarm/model/generate.h"
#include "modelswarm/model/scoring.h"
#include "modelswarm/swarm/model_swarms.h"
#include "modelswarm/swarm/optimiser.h"
#include "bench/bench_export.h"
#include "bench/bench_support.h"

namespace modelswarm::bench {
namespace {

using model::assign_rows;
using model::generate_ids;
using model::LoraBatch;
using model::ModelConfig;
using model::parse_model_config;
using model::SamplingOptions;
using model::score_loglikelihood;
using model::Transformer;
using nlohmann::json;

constexpr const char* kPhases[] = {"forward", "mc", "generate", "pso"};

// How many times less time per particle `fast` takes than `slow`.
void add_speedup(BenchReport& r, const std::string& name, const BenchFigure& slow, const BenchFigure& fast,
                 const std::string& meaning) {
  r.comparisons.push_back({name, slow.seconds_per_particle() / fast.seconds_per_particle(), meaning});
}

// Everything the phases share. Pc = particles of the comparison-only paths.
struct Setup {
  const BenchOptions& o;
  c10::Device device;
  c10::ScalarType dtype;
  const std::map<std::string, at::Tensor>& base_weights;
  const Transformer& model;
  const lora::PoolLayout& layout;
  const at::Tensor& particles;  // (P,D) on the device, model dtype
  const FlopCounter& flops;
  int64_t P, Pc;

  // The particle-by-particle path's model for particle p: its delta merged into the weights.
  Transformer merged(int64_t p) const {
    return Transformer(model.config(), merged_weights(base_weights, layout, particles[p]), device, dtype,
                       "bench particle");
  }
  // rows_per_particle rows of each of the first `count` particles, particle-major.
  LoraBatch lora_rows(int64_t count, int64_t rows_per_particle) const {
    LoraBatch lora{&layout, particles.narrow(0, 0, count), at::Tensor(), {}};
    std::vector<int64_t> row_particle;
    for (int64_t p = 0; p < count; ++p) row_particle.insert(row_particle.end(), rows_per_particle, p);
    assign_rows(lora, row_particle, device);
    return lora;
  }
};

// Full forward passes (logits at every position) of B rows of T tokens per particle.
void forward_phase(const Setup& s, BenchReport& r) {
  const int64_t B = s.o.batch, T = s.o.seq, P = s.P, Pc = s.Pc;
  const auto long_options = at::TensorOptions(s.device).dtype(at::kLong);
  const at::Tensor tokens = at::randint(3, s.model.config().vocab_size, {B, T}, long_options);
  const at::Tensor valid = at::ones({B, T}, at::TensorOptions(s.device).dtype(at::kBool));

  BenchFigure base = measure("forward", "base model", s.device, s.o.min_seconds, [&] { s.model.forward(tokens, valid); });
  base.tokens_per_run = B * T;
  base.flops_per_run = B * s.flops.row(T, 0, T, false);
  r.figures.push_back(base);

  const at::Tensor all_tokens = tokens.repeat({P, 1}), all_valid = valid.repeat({P, 1});
  const LoraBatch lora = s.lora_rows(P, B);
  BenchFigure batched = measure("forward", cat(P, " particles batched"), s.device, s.o.min_seconds,
                                [&] { s.model.forward(all_tokens, all_valid, &lora); });
  batched.particles = P;
  batched.tokens_per_run = P * B * T;
  batched.flops_per_run = P * B * s.flops.row(T, 0, T, true);
  r.figures.push_back(batched);

  BenchFigure one_by_one = measure("forward", cat(Pc, " particles one by one (merged)"), s.device, s.o.min_seconds, [&] {
    for (int64_t p = 0; p < Pc; ++p) s.merged(p).forward(tokens, valid);
  });
  one_by_one.particles = Pc;
  one_by_one.tokens_per_run = Pc * B * T;
  one_by_one.flops_per_run = Pc * (B * s.flops.row(T, 0, T, false) + s.flops.merge());
  r.figures.push_back(one_by_one);
  add_speedup(r, "forward: batched / one by one", one_by_one, batched,
              "speed-up per particle of the batched path over the merged particle-by-particle path");
}

// The multiple-choice set scored as the multiple_choice utility scores it (one log-likelihood
// request per choice), on the engine's scoring path.
void mc_phase(const Setup& s, const MultipleChoiceSet& mc, BenchReport& r) {
  const auto requests = mc.requests();
  const int64_t M = s.o.max_batch_tokens, P = s.P, Pc = s.Pc;
  // Per particle: shared = each prompt once (its last position scores every choice's first
  // token), then each choice's remaining tokens after it; unshared = every choice from scratch.
  double shared_flops = 0, unshared_flops = 0, merged_flops = 0;
  int64_t shared_tokens = 0, unshared_tokens = 0;
  for (size_t q = 0; q < mc.prompts.size(); ++q) {
    const int64_t Tc = static_cast<int64_t>(mc.prompts[q].size());
    shared_flops += s.flops.row(Tc, 0, 1, true);
    merged_flops += s.flops.row(Tc, 0, 1, false);
    shared_tokens += Tc;
    for (const auto& choice : mc.choices[q]) {
      const int64_t n = static_cast<int64_t>(choice.size());
      shared_flops += s.flops.row(n - 1, Tc, n - 1, true);
      merged_flops += s.flops.row(n - 1, Tc, n - 1, false);
      unshared_flops += s.flops.row(Tc + n - 1, 0, n, true);
      shared_tokens += n - 1;
      unshared_tokens += Tc + n - 1;
    }
  }
  const std::string set = cat(mc.prompts.size(), "x", s.o.choices, " mc");

  BenchFigure shared = measure("mc", cat(set, ", ", P, " particles batched, shared prompts"), s.device,
                               s.o.min_seconds, [&] {
                                 score_loglikelihood(s.model, &s.layout, s.particles, requests, M, nullptr, true);
                               });
  shared.particles = P;
  shared.tokens_per_run = P * shared_tokens;
  shared.flops_per_run = P * shared_flops;
  r.figures.push_back(shared);

  const at::Tensor compared = s.particles.narrow(0, 0, Pc);
  BenchFigure unshared = measure("mc", cat(set, ", ", Pc, " particles batched, no sharing"), s.device,
                                 s.o.min_seconds, [&] {
                                   score_loglikelihood(s.model, &s.layout, compared, requests, M, nullptr, false);
                                 });
  unshared.particles = Pc;
  unshared.tokens_per_run = Pc * unshared_tokens;
  unshared.flops_per_run = Pc * unshared_flops;
  r.figures.push_back(unshared);

  BenchFigure one_by_one = measure("mc", cat(set, ", ", Pc, " particles one by one (merged), shared prompts"),
                                   s.device, s.o.min_seconds, [&] {
                                     for (int64_t p = 0; p < Pc; ++p)
                                       score_loglikelihood(s.merged(p), nullptr, at::Tensor(), requests, M, nullptr,
                                                           true);
                                   });
  one_by_one.particles = Pc;
  one_by_one.tokens_per_run = Pc * shared_tokens;
  one_by_one.flops_per_run = Pc * (merged_flops + s.flops.merge());
  r.figures.push_back(one_by_one);
  add_speedup(r, "mc: batched / one by one", one_by_one, shared,
              "speed-up per particle of batched multi-particle scoring over merged particle-by-particle");
  add_speedup(r, "mc: shared prompts / no sharing", unshared, shared,
              "speed-up per particle of computing each prompt once for all its choices");
}

// Greedy generation of G prompts per particle, gen_tokens new tokens each (no EOS).
void generate_phase(const Setup& s, BenchReport& r) {
  const int64_t G = s.o.gen_prompts, Tp = s.o.prompt_tokens, N = s.o.gen_tokens, P = s.P, Pc = s.Pc;
  const auto prompts = random_prompts(G, Tp, s.model.config().vocab_size);
  SamplingOptions greedy;
  greedy.max_new_tokens = N;
  // Per prompt: the prefill (logits at its last position), then N - 1 single-token steps.
  auto prompt_flops = [&](bool lora) {
    double f = s.flops.row(Tp, 0, 1, lora);
    for (int64_t step = 1; step < N; ++step) f += s.flops.row(1, Tp + step - 1, 1, lora);
    return f;
  };
  const int64_t tokens_per_prompt = Tp + N - 1;

  std::vector<std::vector<int64_t>> all_prompts;  // particle-major
  for (int64_t p = 0; p < P; ++p) all_prompts.insert(all_prompts.end(), prompts.begin(), prompts.end());
  const LoraBatch lora = s.lora_rows(P, G);
  BenchFigure batched = measure("generate", cat(G, " prompts x ", N, " tokens, ", P, " particles batched"), s.device,
                                s.o.min_seconds, [&] { generate_ids(s.model, all_prompts, &lora, greedy); });
  batched.particles = P;
  batched.tokens_per_run = P * G * tokens_per_prompt;
  batched.flops_per_run = P * G * prompt_flops(true);
  r.figures.push_back(batched);

  BenchFigure one_by_one = measure("generate", cat(G, " prompts x ", N, " tokens, ", Pc, " particles one by one (merged)"),
                                   s.device, s.o.min_seconds, [&] {
                                     for (int64_t p = 0; p < Pc; ++p) generate_ids(s.merged(p), prompts, nullptr, greedy);
                                   });
  one_by_one.particles = Pc;
  one_by_one.tokens_per_run = Pc * G * tokens_per_prompt;
  one_by_one.flops_per_run = Pc * (G * prompt_flops(false) + s.flops.merge());
  r.figures.push_back(one_by_one);
  add_speedup(r, "generate: batched / one by one", one_by_one, batched,
              "speed-up per particle of batched generation over merged particle-by-particle");
}

// The swarm's utility replaced by a constant, so that a step costs only the update itself.
class ConstantProblem final : public swarm::Problem {
 public:
  explicit ConstantProblem(int64_t dimension) : dimension_(dimension) {}
  int64_t dimension() const override { return dimension_; }
  std::vector<double> evaluate(const at::Tensor& positions) override {
    return std::vector<double>(positions.size(0), 0.0);
  }
  std::string name() const override { return "constant utility"; }

 private:
  int64_t dimension_;
};

// One real swarm step (restarts, velocity and position update, bookkeeping) on (P, D) fp32.
void pso_phase(const Setup& s, BenchReport& r) {
  swarm::CommonOptions options;
  options.swarm_size = s.P;
  options.max_iterations = int64_t{1} << 40;  // never stops during the measurement
  options.patience = int64_t{1} << 40;
  ConstantProblem problem(s.layout.dim());
  const swarm::ModelSwarms algorithm(options, swarm::ModelSwarmsOptions{});
  const swarm::Optimiser optimiser(algorithm, problem);
  swarm::State state = optimiser.initialise(s.particles.to(s.device, at::kFloat));
  BenchFigure step = measure("pso", cat("swarm step, ", s.P, " particles x D ", s.layout.dim()), s.device,
                             s.o.min_seconds, [&] { optimiser.step(state); });
  step.particles = s.P;
  r.figures.push_back(step);
  for (const auto& f : r.figures)  // the mc phase's first figure: one evaluation of all P particles
    if (f.section == "mc") {
      r.comparisons.push_back({"pso: step / mc evaluation", step.seconds_per_run / f.seconds_per_run,
                               "share of an iteration's time the swarm update takes, against scoring the mc set"});
      break;
    }
}

std::string human(double v, const char* unit) {
  const char* prefixes[] = {"", "K", "M", "G", "T", "P"};
  int i = 0;
  while (v >= 1000 && i < 5) v /= 1000, ++i;
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.3g %s%s", v, prefixes[i], unit);
  return buffer;
}

json figure_json(const BenchFigure& f, double peak) {
  json j = {{"name", f.name},
            {"runs", f.runs},
            {"seconds_per_run", f.seconds_per_run},
            {"peak_memory_bytes", f.peak_memory_bytes}};
  if (f.particles > 0) {
    j["particles"] = f.particles;
    j["seconds_per_particle"] = f.seconds_per_particle();
  }
  if (f.flops_per_run > 0) {
    j["flops_per_run"] = f.flops_per_run;
    j["flops_per_second"] = f.flops_per_second();
    j["fraction_of_matmul_peak"] = f.flops_per_second() / peak;
  }
  if (f.tokens_per_run > 0) {
    j["tokens_per_run"] = f.tokens_per_run;
    j["tokens_per_second"] = f.tokens_per_second();
  }
  return j;
}

void check_options(const BenchOptions& o) {
  for (const auto& [name, value] : std::vector<std::pair<const char*, int64_t>>{
           {"--batch", o.batch}, {"--seq", o.seq}, {"--particles", o.particles}, {"--rank", o.rank},
           {"--questions", o.questions}, {"--choices", o.choices}, {"--prompt-tokens", o.prompt_tokens},
           {"--choice-tokens", o.choice_tokens}, {"--gen-prompts", o.gen_prompts}, {"--gen-tokens", o.gen_tokens},
           {"--max-batch-tokens", o.max_batch_tokens}})
    if (value < 1) throw ConfigError(cat("bench: ", name, " must be positive, got ", value));
  if (o.compare_particles < 0 || o.compare_particles > o.particles)
    throw ConfigError(cat("bench: --compare-particles must be in [0, --particles = ", o.particles, "], got ",
                          o.compare_particles));
  if (o.min_seconds < 0 || o.matmul_size < 0)
    throw ConfigError("bench: --min-seconds and --matmul-size must not be negative");
  for (const auto& phase : o.phases)
    if (std::find(std::begin(kPhases), std::end(kPhases), phase) == std::end(kPhases))
      throw ConfigError(cat("bench: --phases: unknown phase \"", phase, "\" (known: forward, mc, generate, pso)"));
}

bool wants(const BenchOptions& o, const char* phase) {
  return std::find(o.phases.begin(), o.phases.end(), phase) != o.phases.end();
}

// Large square matmuls, as fast as libtorch goes on this device and dtype: the fastest run over at
// least `seconds` (a peak, so the best run, not the mean). Runs alternate a·b and a·bᵀ (at::linear,
// the engine's own form): on a CPU without bfloat16 instructions libtorch's bfloat16 a·b is 20x
// slower than its a·bᵀ, which would make a peak that the engine passes.
BenchFigure matmul_peak(const c10::Device& device, c10::ScalarType dtype, int64_t N, double seconds) {
  const auto options = at::TensorOptions(device).dtype(dtype);
  const at::Tensor a = at::randn({N, N}, options), b = at::randn({N, N}, options);
  double fastest = 0;
  bool transposed = true;  // the engine's form first: a slow a·b may take the whole time
  auto timed = [&] {
    const auto start = std::chrono::steady_clock::now();
    transposed ? at::linear(a, b) : at::matmul(a, b);
    transposed = !transposed;
    synchronize(device);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    fastest = fastest == 0 ? s : std::min(fastest, s);
  };
  BenchFigure peak = measure("peak", cat("matmul ", N, "x", N, " ", dtype_name(dtype), ", fastest run"), device,
                             seconds, timed);
  peak.seconds_per_run = fastest;
  peak.flops_per_run = 2.0 * N * N * N;
  return peak;
}

}  // namespace

ModelConfig bench_preset(const std::string& name) {
  return parse_model_config(preset_json(name), cat("bench preset ", name));
}

BenchReport run_bench(const BenchOptions& o) {
  check_options(o);
  configure_runtime();
  c10::InferenceMode inference;
  BenchReport r;
  r.options = o;
  r.config = bench_preset(o.preset);
  r.threads = at::get_num_threads();
  const c10::Device device = parse_device(o.device);
  const c10::ScalarType dtype = parse_dtype(o.dtype, device);
  r.device = device.str();
  r.dtype = dtype_name(dtype);
  r.memory_kind = device.is_cpu() ? "cpu peak rss" : "max allocated";
  const auto options = at::TensorOptions(device).dtype(dtype);
  at::manual_seed(o.seed);

  // The peak of the dtype in use, which every figure is a fraction of; float32's and bfloat16's
  // too, so that one run shows what the other dtype would give on this device.
  const int64_t N = o.matmul_size > 0 ? o.matmul_size : device.is_cpu() ? 1024 : 8192;
  const double peak_seconds = std::max(o.min_seconds, 2.0);
  r.matmul = matmul_peak(device, dtype, N, peak_seconds);
  r.dtype_reason = choose_dtype(o.dtype, device).reason;
  for (const c10::ScalarType other : {c10::kFloat, c10::kBFloat16})
    r.matmul_peaks[dtype_name(other)] = other == dtype ? r.matmul : matmul_peak(device, other, N, peak_seconds);

  const auto base_weights = random_weights(r.config, options);
  const Transformer model(r.config, base_weights, device, dtype, cat("bench preset ", o.preset));
  for (const auto& [name, t] : base_weights) r.parameters += t.numel();
  const lora::PoolLayout layout = full_layout(model, o.rank);
  r.particle_dim = layout.dim();
  // Large enough that each particle visibly changes the scores (bench_export_test).
  const at::Tensor particles = at::randn({o.particles, layout.dim()}, options).mul_(0.05);  // (P,D)
  const MultipleChoiceSet mc = random_mc_set(o, r.config.vocab_size);
  if (!o.export_dir.empty()) export_bench(o.export_dir, preset_json(o.preset), base_weights, layout, particles, mc);

  const FlopCounter flops(model, &layout);
  const Setup setup{o, device, dtype, base_weights, model, layout, particles, flops,
                    o.particles, o.compare_particles > 0 ? o.compare_particles : o.particles};
  if (wants(o, "forward")) forward_phase(setup, r);
  if (wants(o, "mc")) mc_phase(setup, mc, r);
  if (wants(o, "generate")) generate_phase(setup, r);
  if (wants(o, "pso")) pso_phase(setup, r);
  return r;
}

const BenchFigure* BenchReport::find(const std::string& name) const {
  for (const auto& f : figures)
    if (f.name == name) return &f;
  return nullptr;
}

json BenchReport::to_json() const {
  const double peak = matmul.flops_per_second();
  json sections = json::object();
  for (const char* phase : kPhases) sections[phase] = json::array();
  for (const auto& f : figures) sections[f.section].push_back(figure_json(f, peak));
  json peaks_json = json::object();
  for (const auto& [name, figure] : matmul_peaks) peaks_json[name] = figure_json(figure, peak);
  json comparisons_json = json::array();
  for (const auto& c : comparisons)
    comparisons_json.push_back({{"name", c.name}, {"value", c.value}, {"meaning", c.meaning}});
  json j = {{"preset", options.preset},
            {"model",
             {{"layers", config.num_hidden_layers},
              {"hidden_size", config.hidden_size},
              {"intermediate_size", config.intermediate_size},
              {"heads", config.num_attention_heads},
              {"kv_heads", config.num_key_value_heads},
              {"vocab_size", config.vocab_size},
              {"parameters", parameters}}},
            {"device", device},
            {"dtype", dtype},
            {"threads", threads},
            {"particles", options.particles},
            {"compare_particles", options.compare_particles > 0 ? options.compare_particles : options.particles},
            {"rank", options.rank},
            {"particle_dim", particle_dim},
            {"workloads",
             {{"forward", {{"batch", options.batch}, {"seq", options.seq}}},
              {"mc",
               {{"questions", options.questions},
                {"choices", options.choices},
                {"prompt_tokens", options.prompt_tokens},
                {"choice_tokens", options.choice_tokens}}},
              {"generate",
               {{"prompts_per_particle", options.gen_prompts},
                {"prompt_tokens", options.prompt_tokens},
                {"new_tokens", options.gen_tokens}}},
              {"max_batch_tokens", options.max_batch_tokens}}},
            {"memory_kind", memory_kind},
            {"dtype_reason", dtype_reason},
            {"matmul_peak", figure_json(matmul, peak)},
            {"matmul_peaks", peaks_json},
            {"comparisons", comparisons_json}};
  for (auto& [phase, figures_json] : sections.items()) j[phase] = figures_json;
  return j;
}

std::string BenchReport::to_text() const {
  const double peak = matmul.flops_per_second();
  const int64_t compared = options.compare_particles > 0 ? options.compare_particles : options.particles;
  std::ostringstream out;
  out << "model   " << options.preset << ": Llama L " << config.num_hidden_layers << ", D " << config.hidden_size
      << ", F " << config.intermediate_size << ", H " << config.num_attention_heads << "/" << config.num_key_value_heads
      << " kv, V " << config.vocab_size << ", " << static_cast<double>(parameters) / 1e6 << "M parameters (random)\n"
      << "run     " << device << " " << dtype << ", " << threads << " threads, " << options.particles
      << " particles (comparisons: " << compared << ") of LoRA rank " << options.rank
      << " on all linear modules (D = " << particle_dim << "), max " << options.max_batch_tokens
      << " tokens per pass\n"
      << "dtype   " << dtype << ": " << dtype_reason << "\n";
  for (const auto& [name, figure] : matmul_peaks)
    out << "peak    " << figure.name << ": " << human(figure.flops_per_second(), "FLOP/s") << " (" << figure.runs
        << " runs)" << (name == dtype ? ", the peak of the dtype in use" : "") << "\n";
  char line[320];
  std::string section;
  for (const auto& f : figures) {
    if (f.section != section) {
      section = f.section;
      std::snprintf(line, sizeof(line), "%-58s %10s %10s %9s %12s %7s %10s\n", section.c_str(), "wall/run",
                    "s/particle", "tokens/s", "FLOP/s", "of peak", "peak mem");
      out << line;
    }
    char per_particle[32] = "-";
    if (f.particles > 0) std::snprintf(per_particle, sizeof(per_particle), "%.3f s", f.seconds_per_particle());
    std::snprintf(line, sizeof(line), "  %-56s %8.3f s %10s %9s %12s %6.1f%% %10s\n", f.name.c_str(),
                  f.seconds_per_run, per_particle,
                  f.tokens_per_run > 0 ? human(f.tokens_per_second(), "").c_str() : "-",
                  f.flops_per_run > 0 ? human(f.flops_per_second(), "FLOP/s").c_str() : "-",
                  f.flops_per_run > 0 ? 100.0 * f.flops_per_second() / peak : 0.0,
                  human(static_cast<double>(f.peak_memory_bytes), "B").c_str());
    out << line;
  }
  for (const auto& c : comparisons) {
    std::snprintf(line, sizeof(line), "ratio   %-36s %8.2fx  (%s)\n", c.name.c_str(), c.value, c.meaning.c_str());
    out << line;
  }
  out << "memory  " << memory_kind << "; FLOPs from the model shape for the work each path does (bench/bench.h)\n";
  return out.str();
}

}  // namespace modelswarm::bench
