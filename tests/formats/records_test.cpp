#include "modelswarm/formats/records.h"

#include "modelswarm/common/atomic_file.h"
#include "modelswarm/common/error.h"
#include "test_utils.h"

namespace modelswarm {
namespace {
namespace fs = std::filesystem;
using records::read_records;
using records::record_location;
using test::message_of;

fs::path write(const fs::path& dir, const std::string& name, const std::string& text) {
  write_text_atomic(dir / name, text);
  return dir / name;
}

TEST(Records, ReadsJsonlSkippingBlankLinesAndJsonArrays) {
  const fs::path dir = test::temp_dir("data");
  auto records = read_records(write(dir, "a.jsonl", "{\"x\": 1}\n\n  \n{\"x\": 2}\r\n"));
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].fields["x"], 2);
  EXPECT_EQ(records[1].line, 4);
  records = read_records(write(dir, "b.json", "[{\"x\": 1}, {\"x\": 2}, {\"x\": 3}]"));
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(record_location(dir / "b.json", records[2]), (dir / "b.json").string() + ": element 3");
}

TEST(Records, MalformedLineNamesFileAndLine) {
  const fs::path dir = test::temp_dir("data");
  const fs::path p = write(dir, "bad.jsonl", "{\"x\": 1}\n{\"x\": 2\n{\"x\": 3}\n");
  const std::string m = message_of<Error>([&] { read_records(p); });
  EXPECT_NE(m.find(p.string() + ":2: invalid JSON"), std::string::npos) << m;
  const fs::path q = write(dir, "scalar.jsonl", "{\"x\": 1}\n[1, 2]\n");
  EXPECT_NE(message_of<Error>([&] { read_records(q); }).find(q.string() + ":2: expected a JSON object"),
            std::string::npos);
}

TEST(Records, EmptyDataSetIsAnError) {
  const fs::path dir = test::temp_dir("data");
  const fs::path p = write(dir, "empty.jsonl", "\n\n");
  const std::string m = message_of<Error>([&] { read_records(p); });
  EXPECT_NE(m.find(p.string() + ": the data set is empty"), std::string::npos) << m;
  const fs::path q = write(dir, "empty.json", "[]");
  EXPECT_NE(message_of<Error>([&] { read_records(q); }).find("empty"), std::string::npos);
}

}  // namespace
}  // namespace modelswarm
