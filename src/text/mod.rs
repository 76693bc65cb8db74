//! Text work shared by the jobs: normalising what agents and users wrote into a view
//! that rules can match, with a map back to the characters they actually typed.

pub mod normalize;
pub mod numbers;
pub mod segment;
