//! The coin arithmetic: a whole number of cents into quarters, dimes, nickels and pennies, using
//! as few coins as possible.

use serde::{Deserialize, Serialize};

/// Coins making up an amount; the answer of every way in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub quarters: u64,
    pub dimes: u64,
    pub nickels: u64,
    pub pennies: u64,
}

impl Change {
    /// How many coins this is.
    pub fn coins(&self) -> u64 {
        self.quarters + self.dimes + self.nickels + self.pennies
    }

    /// What the coins are worth, in cents.
    pub fn cents(&self) -> u64 {
        25 * self.quarters + 10 * self.dimes + 5 * self.nickels + self.pennies
    }
}

/// The fewest coins worth `cents`.
///
/// Taking the largest coin that fits, again and again, is optimal for US coins (they form a
/// canonical coin system), so no search is needed; the tests check it against an exhaustive one.
pub fn make_change(cents: u64) -> Change {
    let quarters = cents / 25;
    let rest = cents % 25;
    let dimes = rest / 10;
    let rest = rest % 10;
    Change {
        quarters,
        dimes,
        nickels: rest / 5,
        pennies: rest % 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_example() {
        // $0.63 gives 2 quarters, 1 dime, 3 pennies.
        assert_eq!(
            make_change(63),
            Change {
                quarters: 2,
                dimes: 1,
                nickels: 0,
                pennies: 3
            }
        );
    }

    #[test]
    fn small_and_limit_amounts() {
        assert_eq!(make_change(0), Change::default());
        assert_eq!(make_change(1).pennies, 1);
        assert_eq!(
            make_change(29),
            Change {
                quarters: 1,
                dimes: 0,
                nickels: 0,
                pennies: 4
            }
        );
        assert_eq!(
            make_change(30),
            Change {
                quarters: 1,
                dimes: 0,
                nickels: 1,
                pennies: 0
            }
        );
        let million = make_change(100_000_000);
        assert_eq!(million.quarters, 4_000_000);
        assert_eq!(million.coins(), 4_000_000);
    }

    #[test]
    fn greedy_is_optimal_for_us_coins() {
        // Fewest coins for every amount up to $20, by exhaustive dynamic programming.
        const LIMIT: usize = 2_000;
        let mut fewest = vec![u64::MAX; LIMIT + 1];
        fewest[0] = 0;
        for cents in 1..=LIMIT {
            for coin in [1, 5, 10, 25] {
                if coin <= cents && fewest[cents - coin] != u64::MAX {
                    fewest[cents] = fewest[cents].min(fewest[cents - coin] + 1);
                }
            }
        }
        for (cents, best) in fewest.iter().enumerate() {
            let change = make_change(cents as u64);
            assert_eq!(change.cents(), cents as u64);
            assert_eq!(change.coins(), *best, "{cents} cents: {change:?}");
            // Greedy never leaves enough of a smaller coin to make a larger one.
            assert!(change.dimes <= 2 && change.nickels <= 1 && change.pennies <= 4);
            assert!(!(change.dimes == 2 && change.nickels == 1));
        }
    }

    #[test]
    fn serialises_in_coin_order() {
        assert_eq!(
            serde_json::to_string(&make_change(63)).unwrap(),
            r#"{"quarters":2,"dimes":1,"nickels":0,"pennies":3}"#
        );
    }
}
