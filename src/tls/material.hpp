// The "material" loader of the backend kit: a certificate, key or CRL given as a file, as PEM
// bytes (sslrootcert etc. holding PEM, or the PEM setters of the API) or as the system store,
// turned into bytes and named in messages. Every backend reads files through it, so an
// unreadable file (or a directory) fails the same way whatever the TLS stack; each backend keeps
// its own wording around the label and the reason.
#pragma once

#include <optional>
#include <string>

#include "tls/tls_backend.hpp"

namespace pgtls::tls {

// Why read_whole_file failed: at open (missing, permission, a directory) or while reading.
struct FileReadFailure {
    bool at_open = true;
    std::string reason;  // strerror text ("No such file or directory", "Is a directory"); empty if none
};

// The whole file, or nullopt with `failure` filled. Never throws for an unreadable path
// (std::ifstream would throw std::ios_base::failure on a directory).
std::optional<std::string> read_whole_file(const std::string& path, FileReadFailure& failure);

// How messages name a piece of material: `file` followed by the quoted path for a file
// ("root certificate file \"/p/root.crt\""), `other` for PEM bytes or the system store
// ("sslrootcert (PEM data)"): the label names the option the user set.
struct MaterialLabel {
    std::string file;
    std::string other;
};
std::string material_label(const Material& m, const MaterialLabel& label);

// The bytes of file or PEM material: PEM material is its own bytes, a file is read whole with
// read_file (src/tls/tls_files.hpp): Error(config) "could not read <what> \"PATH\": <reason>".
// Empty for none and system (the backend loads the system store itself).
std::string material_bytes(const Material& m, const std::string& what);

}  // namespace pgtls::tls
