// Test-only: what the sanitizers need to see in this process (see MutexAnnotations.c).
// Nothing to call: the file works by interposition and is empty in builds without a sanitizer.
#pragma once
