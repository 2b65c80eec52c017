namespace dw::testing {}
