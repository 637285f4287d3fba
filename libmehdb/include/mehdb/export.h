// SPDX-License-Identifier: MIT
//
// MEHDB_EXPORT marks the library's public surface; everything else is hidden
// (the library is built with -fvisibility=hidden).
#ifndef MEHDB_EXPORT_H_
#define MEHDB_EXPORT_H_

#if defined(MEHDB_BUILDING_LIBRARY)
#define MEHDB_EXPORT [[gnu::visibility("default")]]
#else
#define MEHDB_EXPORT
#endif

#endif  // MEHDB_EXPORT_H_
