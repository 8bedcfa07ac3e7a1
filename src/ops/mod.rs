//! Operations surfaces: the four-letter words on the client port.

pub mod four_letter;
