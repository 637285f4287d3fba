// SPDX-License-Identifier: MIT
//
// MEHDB_EXPORT marks the library's public surface; everything else is hidden
// (the library is built with -fvisibility=hidden).
#ifndef MEHDB_EXPORT_H_
#define MEHDB_EXPORT_H_

// Every public header includes this one. They need C++20 (std::span,
// defaulted comparisons); say so in one line rather than a page of errors.
#if !defined(__cplusplus) || __cplusplus < 202002L
#error "mehdb's headers need C++20: compile with -std=c++20 or later, e.g. g++ -std=c++20 prog.cc $(pkg-config --cflags --libs mehdb)"
#endif

#if defined(MEHDB_BUILDING_LIBRARY)
#define MEHDB_EXPORT [[gnu::visibility("default")]]
#else
#define MEHDB_EXPORT
#endif

#endif  // MEHDB_EXPORT_H_
