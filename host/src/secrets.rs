//! Secret values: literal, `env:NAME` or `file:PATH`, never printed.
