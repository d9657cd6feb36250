// virsh-style tables: a leading space per cell, columns padded to the widest
// cell plus two, and a dashed separator under the header.
#pragma once

#include <string>
#include <vector>

namespace vd::tools {

class Table {
public:
    explicit Table(std::vector<std::string> header);
    void addRow(std::vector<std::string> row);
    std::string render() const;

private:
    std::vector<std::vector<std::string>> rows_;
};

} // namespace vd::tools
