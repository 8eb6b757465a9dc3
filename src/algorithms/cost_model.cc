#include "algorithms/cost_model.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <iterator>
#include <sstream>

#include "algorithms/registry.h"
#include "base/error.h"

namespace gccl {

namespace {

using K = CollectiveKind;
using A = AlgorithmId;

double log2Ceil(int n) {
  return n <= 1 ? 0.0 : std::ceil(std::log2(n));
}

int powerOfTwoBelow(int n) {
  return static_cast<int>(std::bit_floor(static_cast<unsigned>(std::max(1, n))));
}

// The closed forms, with n ranks, B bytes, link (a, b) and reduction g. Recursive doubling
// and halving-doubling know which exchanges stay on a host: those at a distance below
// `nearDistance` take the `near` link (intra-host), the others `far`, where every rank of a
// host crosses at once and they share its NIC. Every other algorithm's lock-step path runs at
// the slower of the links, (a, b) throughout.
struct Model {
  double n, B, s, a, b, g;
  double nearDistance = 0;  // 0: one link for every exchange, (a, b)
  LinkCost near{0, 0};
  LinkCost far{0, 0};

  LinkCost linkAt(double distance) const {
    if (nearDistance == 0) return {a, b};
    return distance < nearDistance ? near : far;
  }

  // Messages of at most one slice: sliced exchanges pay alpha per slice, not per round.
  double slices() const { return std::max(1.0, std::ceil(B / std::max(1.0, s))); }
  double ringAllreduce() const { return 2 * (n - 1) * a + (n - 1) / n * B * (2 * b + g); }
  double recursiveDoublingAllreduce() const {
    double total = 0;
    for (double d = 1; d < n; d *= 2)
      total += linkAt(d).alphaUs + B * (linkAt(d).betaUsPerByte + g);
    return total;
  }
  // Round d of the halving (and of the doubling) moves B d / p; the folds pair ranks 2i, 2i+1.
  double halvingDoublingAllreduce() const {
    const double p = powerOfTwoBelow(int(n));
    const LinkCost pair = linkAt(1);
    const double fold = n > p ? 2 * (pair.alphaUs + B * pair.betaUsPerByte) + B * g : 0.0;
    double rounds = 0;
    for (double d = 1; d < p; d *= 2) {
      rounds += 2 * (linkAt(d).alphaUs + B * d / p * linkAt(d).betaUsPerByte);
    }
    // The sliced rounds are the first (largest) ones, at the widest distance.
    return fold + rounds + 2 * (slices() - 1) * linkAt(p / 2).alphaUs + (p - 1) / p * B * g;
  }
  // Two trees of depth D, each moving half the buffer in slices: the pipeline fills in 2D
  // slice times, and an inner node moves about twice the buffer, as in a ring.
  double treeAllreduce() const {
    const double depth = log2Ceil(int(n));
    const double slice = std::min(s, B / 2);
    return 2 * depth * (a + 2 * slice * b) + B * (2 * b + g);
  }
  // Two rounds of n - 1 messages each way, posted at once (slices too: no pipeline to fill):
  // every message beyond the first is charged a quarter alpha, its posting and wake-up
  // overlapping the others' transfers.
  double directAllreduce() const {
    return 2 * (a + (n - 2) * a / 4) + (n - 1) / n * B * (2 * b + g);
  }
  // One such round, each message the whole buffer, and n - 1 reductions of it.
  double oneShotAllreduce() const { return a + (n - 2) * a / 4 + (n - 1) * B * (b + g); }
  // A chain of n - 1 hops, slice after slice.
  double chain(double reduce) const {
    const double slice = std::min(s, B);
    return (n - 1 + slices() - 1) * (a + slice * (b + reduce));
  }
  // The root sends every slice to each of its log2(n) children in turn.
  double binomial(double reduce) const {
    return log2Ceil(int(n)) * (slices() * a + B * (b + reduce));
  }
  double ringGather(double reduce) const { return (n - 1) * a + (n - 1) / n * B * (b + reduce); }
  double bruckGather() const { return (log2Ceil(int(n)) + slices() - 1) * a + (n - 1) / n * B * b; }
  // All-to-all, B the bytes of one rank's whole buffer: n - 1 messages at once, each byte
  // moved once; or Bruck's rounds, one message each of about half the buffer, packed and
  // unpacked, between a rotation and a final placement (a copy priced as a reduction's pass).
  double pairwiseAllToAll() const { return a + (n - 2) * a / 4 + (n - 1) / n * B * b; }
  double bruckAllToAll() const {
    const double rounds = log2Ceil(int(n));
    return rounds * (a + B / 2 * b + B * g) + 2 * B * g;
  }
  double halvingScatter() const {
    const double p = powerOfTwoBelow(int(n));
    const double fold = n > p ? 2 * a + B * (b + g) + B / n * b : 0.0;
    return fold + (std::log2(p) + slices() - 1) * a + (p - 1) / p * B * (b + g);
  }
};

// Reduce-scatter within hosts, allreduce of one segment between them, allgather within.
double hierarchicalAllreduce(const CostInputs& in) {
  const double m = in.ranksPerHost, B = static_cast<double>(in.bytes);
  const auto& intra = in.figures.intraHost;
  const auto& inter = in.figures.interHost;
  const double g = in.figures.gammaUsPerByte, s = static_cast<double>(in.sliceBytes);
  const double local =
      m > 1 ? 2 * (m - 1) * intra.alphaUs + (m - 1) / m * B * (2 * intra.betaUsPerByte + g) : 0.0;
  const Model between{static_cast<double>(in.hosts), B / m, s, inter.alphaUs,
                      inter.betaUsPerByte,           g};
  // The schedule's rule: halving-doubling when the segment fits in one slice.
  return local + (B / m <= s ? between.halvingDoublingAllreduce() : between.ringAllreduce());
}

// Ranks sharing a host's NIC (an average where hosts differ).
double ranksPerHost(const CostInputs& in) {
  if (in.ranksPerHost > 0) return in.ranksPerHost;
  return static_cast<double>(in.size) / std::max(1, in.hosts);
}

std::optional<double> closedForm(CollectiveKind collective, AlgorithmId algorithm,
                                 const CostInputs& in) {
  if (algorithm == A::kHierarchical) {
    if (collective != K::kAllreduce || in.hosts < 2 || in.ranksPerHost < 1) return std::nullopt;
    return hierarchicalAllreduce(in);
  }
  // A flat algorithm spanning hosts has links of both kinds on its path and runs at the speed
  // of the slower (usually the network; loopback TCP can be slower than a fast fabric).
  const LinkCost& intra = in.figures.intraHost;
  const LinkCost& inter = in.figures.interHost;
  const LinkCost link = in.hosts > 1 ? LinkCost{std::max(intra.alphaUs, inter.alphaUs),
                                                std::max(intra.betaUsPerByte, inter.betaUsPerByte)}
                                     : intra;
  const Model m{static_cast<double>(in.size),
                static_cast<double>(in.bytes),
                static_cast<double>(std::max<size_t>(1, in.sliceBytes)),
                link.alphaUs,
                link.betaUsPerByte,
                in.figures.gammaUsPerByte,
                in.hosts > 1 ? static_cast<double>(in.sameHostDistance) : 0.0,
                intra,
                LinkCost{inter.alphaUs, inter.betaUsPerByte * ranksPerHost(in)}};
  if (in.size <= 1) return 0.0;
  switch (collective) {
    case K::kAllreduce:
    case K::kBarrier:
      switch (algorithm) {
        case A::kRing: return m.ringAllreduce();
        case A::kRecursiveDoubling: return m.recursiveDoublingAllreduce();
        case A::kHalvingDoubling: return m.halvingDoublingAllreduce();
        case A::kTree: return m.treeAllreduce();
        case A::kDirect:
          if (in.hosts > 1 || collective != K::kAllreduce) return std::nullopt;
          return m.directAllreduce();
        case A::kOneShot:
          if (in.hosts > 1) return std::nullopt;
          return m.oneShotAllreduce();
        default: return std::nullopt;
      }
    case K::kBroadcast:
    case K::kReduce: {
      const double reduce = collective == K::kReduce ? m.g : 0.0;
      if (algorithm == A::kRing) return m.chain(reduce);
      if (algorithm == A::kTree) return m.binomial(reduce);
      return std::nullopt;
    }
    case K::kAllgather:
    case K::kAllgatherV:
      if (algorithm == A::kRing) return m.ringGather(0.0);
      if (algorithm == A::kRecursiveDoubling) return m.bruckGather();
      return std::nullopt;
    case K::kReduceScatter:
      if (algorithm == A::kRing) return m.ringGather(m.g);
      if (algorithm == A::kHalvingDoubling) return m.halvingScatter();
      return std::nullopt;
    case K::kAllToAll:
      if (algorithm == A::kRecursiveDoubling) return m.bruckAllToAll();
      if (algorithm == A::kDirect) return m.pairwiseAllToAll();
      return std::nullopt;
    case K::kAllToAllV:  // B: the larger of the rank's input and output extents
      if (algorithm == A::kDirect) return m.pairwiseAllToAll();
      return std::nullopt;
  }
  return std::nullopt;
}

constexpr CollectiveKind kCollectives[] = {K::kAllreduce, K::kBroadcast,  K::kReduce,
                                           K::kAllgather, K::kAllgatherV, K::kReduceScatter,
                                           K::kBarrier,   K::kAllToAll,   K::kAllToAllV};
constexpr AlgorithmId kAlgorithmIds[] = {
    A::kRing,   A::kRecursiveDoubling, A::kTree, A::kHalvingDoubling, A::kHierarchical, A::kDirect,
    A::kOneShot};

// "scale.allreduce.tree" -> (allreduce, tree); nullopt for names that are no such pair.
std::optional<std::pair<CollectiveKind, AlgorithmId>> scaleKey(std::string_view key) {
  for (const CollectiveKind kind : kCollectives) {
    for (const AlgorithmId id : kAlgorithmIds) {
      if (key == strCat("scale.", collectiveName(kind), ".", algorithmName(id))) {
        return std::make_pair(kind, id);
      }
    }
  }
  return std::nullopt;
}

}  // namespace

double Scale::bandwidthFor(size_t bytes) const {
  if (bandwidthAt.empty()) return bandwidth;
  if (bytes <= bandwidthAt.front().first) return bandwidthAt.front().second;
  if (bytes >= bandwidthAt.back().first) return bandwidthAt.back().second;
  const auto above = std::upper_bound(bandwidthAt.begin(), bandwidthAt.end(), bytes,
                                      [](size_t b, const auto& point) { return b < point.first; });
  const auto below = std::prev(above);
  const double position = std::log2(static_cast<double>(bytes) / below->first) /
                          std::log2(static_cast<double>(above->first) / below->first);
  return below->second + position * (above->second - below->second);
}

std::optional<CostParts> predictParts(CollectiveKind collective, AlgorithmId algorithm,
                                      const CostInputs& in) {
  CostInputs latencyOnly = in, bandwidthOnly = in;
  for (LinkCost* link : {&latencyOnly.figures.intraHost, &latencyOnly.figures.interHost}) {
    link->betaUsPerByte = 0;
  }
  latencyOnly.figures.gammaUsPerByte = 0;
  for (LinkCost* link : {&bandwidthOnly.figures.intraHost, &bandwidthOnly.figures.interHost}) {
    link->alphaUs = 0;
  }
  const auto latency = closedForm(collective, algorithm, latencyOnly);
  const auto bandwidth = closedForm(collective, algorithm, bandwidthOnly);
  if (!latency || !bandwidth) return std::nullopt;
  return CostParts{*latency, *bandwidth};
}

std::optional<double> predictMicros(CollectiveKind collective, AlgorithmId algorithm,
                                    const CostInputs& in) {
  const std::optional<CostParts> parts = predictParts(collective, algorithm, in);
  if (!parts) return std::nullopt;
  const auto found = in.figures.scales.find({collective, algorithm});
  static const Scale kUnscaled;
  const Scale& scale = found != in.figures.scales.end() ? found->second : kUnscaled;
  return scale.latency * parts->latencyUs + scale.bandwidthFor(in.bytes) * parts->bandwidthUs;
}

namespace {

double positive(std::istringstream& in, int line) {
  double value = 0;
  if (!(in >> value) || !(value > 0) || !std::isfinite(value)) {
    fail(Status::kInvalidArgument, "tune file line ", line, ": expected a positive number");
  }
  return value;
}

Scale parseScale(const std::string& text, int line) {
  std::istringstream in(text);
  Scale scale;
  scale.latency = positive(in, line);
  char comma = 0;
  if (!(in >> comma) || comma != ',') {
    fail(Status::kInvalidArgument, "tune file line ", line, ": expected <latency>,<bandwidth>");
  }
  scale.bandwidth = positive(in, line);
  if (!(in >> std::ws).eof()) {
    fail(Status::kInvalidArgument, "tune file line ", line, ": trailing characters");
  }
  return scale;
}

// "scale.<collective>.<algorithm>@<bytes>=<bandwidth>": one more measured size, kept in order.
void addBandwidthAt(Scale& scale, const std::string& bytesText, const std::string& valueText,
                    int line) {
  size_t bytes = 0;
  const char* end = bytesText.data() + bytesText.size();
  const auto [stop, error] = std::from_chars(bytesText.data(), end, bytes);
  if (error != std::errc() || stop != end || bytes == 0) {
    fail(Status::kInvalidArgument, "tune file line ", line, ": expected @<bytes> above 0");
  }
  std::istringstream in(valueText);
  const double value = positive(in, line);
  if (!(in >> std::ws).eof()) {
    fail(Status::kInvalidArgument, "tune file line ", line, ": trailing characters");
  }
  auto& points = scale.bandwidthAt;
  const auto place = std::lower_bound(points.begin(), points.end(), bytes,
                                      [](const auto& point, size_t b) { return point.first < b; });
  if (place != points.end() && place->first == bytes) {
    fail(Status::kInvalidArgument, "tune file line ", line, ": a second scale at ", bytes,
         " bytes");
  }
  points.insert(place, {bytes, value});
}

}  // namespace

CostFigures parseCostFigures(const std::string& text) {
  CostFigures figures;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  bool header = false;
  while (std::getline(in, line)) {
    ++number;
    line = line.substr(0, line.find('#'));
    line.erase(0, line.find_first_not_of(" \t\r"));
    line.erase(line.find_last_not_of(" \t\r") + 1);
    if (line.empty()) continue;
    if (!header) {
      if (line != "gccl-tune 1") {
        fail(Status::kInvalidArgument, "tune file line ", number, ": expected 'gccl-tune 1'");
      }
      header = true;
      continue;
    }
    const size_t equals = line.find('=');
    const std::string key = line.substr(0, equals);
    if (const auto pair = scaleKey(key)) {
      // Keeps the sizes' scales of a line before it.
      const Scale parsed = parseScale(line.substr(equals + 1), number);
      Scale& scale = figures.scales[*pair];
      scale.latency = parsed.latency;
      scale.bandwidth = parsed.bandwidth;
      continue;
    }
    if (const size_t at = key.find('@'); at != std::string::npos) {
      if (const auto pair = scaleKey(key.substr(0, at))) {
        addBandwidthAt(figures.scales[*pair], key.substr(at + 1),
                       equals == std::string::npos ? "" : line.substr(equals + 1), number);
        continue;
      }
    }
    double value = 0;
    std::istringstream number_text(equals == std::string::npos ? "" : line.substr(equals + 1));
    if (!(number_text >> value) || !(number_text >> std::ws).eof() || !(value > 0) ||
        !std::isfinite(value)) {
      fail(Status::kInvalidArgument, "tune file line ", number, ": expected key=positive number");
    }
    if (key == "intra_alpha_us")
      figures.intraHost.alphaUs = value;
    else if (key == "intra_beta_us_per_byte")
      figures.intraHost.betaUsPerByte = value;
    else if (key == "inter_alpha_us")
      figures.interHost.alphaUs = value;
    else if (key == "inter_beta_us_per_byte")
      figures.interHost.betaUsPerByte = value;
    else if (key == "gamma_us_per_byte")
      figures.gammaUsPerByte = value;
    else
      fail(Status::kInvalidArgument, "tune file line ", number, ": unknown key '", key, "'");
  }
  if (!header) fail(Status::kInvalidArgument, "tune file is empty");
  return figures;
}

std::string formatCostFigures(const CostFigures& f) {
  std::ostringstream out;
  out.precision(17);  // round-trips a double exactly
  out << "gccl-tune 1\n"
      << "intra_alpha_us=" << f.intraHost.alphaUs << "\n"
      << "intra_beta_us_per_byte=" << f.intraHost.betaUsPerByte << "\n"
      << "inter_alpha_us=" << f.interHost.alphaUs << "\n"
      << "inter_beta_us_per_byte=" << f.interHost.betaUsPerByte << "\n"
      << "gamma_us_per_byte=" << f.gammaUsPerByte << "\n";
  for (const auto& [pair, scale] : f.scales) {
    const std::string name =
        strCat("scale.", collectiveName(pair.first), ".", algorithmName(pair.second));
    out << name << "=" << scale.latency << "," << scale.bandwidth << "\n";
    for (const auto& [bytes, bandwidth] : scale.bandwidthAt) {
      out << name << "@" << bytes << "=" << bandwidth << "\n";
    }
  }
  return out.str();
}

}  // namespace gccl
