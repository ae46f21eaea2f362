;; Compiles to the 8-byte module header: the wasm sample buildpack writes it.
(module)
