//! User-defined device models after checking: readings with their generators and datasheet
//! properties, state, named commands and transitions. Expressions are evalexpr trees,
//! built once when the scenario loads and evaluated against a [`Scope`] of the device's
//! variables.

use evalexpr::error::EvalexprResultValue;
use evalexpr::{Context, DefaultNumericTypes, EvalexprError, EvalexprResult, Node};
use std::collections::HashMap;

/// A value an expression reads or a state holds.
pub type ExprValue = evalexpr::Value<DefaultNumericTypes>;

/// Variables every expression may read besides the model's readings and states.
pub const BUILTIN_VARS: [&str; 5] = [
    "t",
    "hour",
    "env_temperature",
    "env_humidity",
    "env_pressure",
];

/// What `env_temperature`, `env_humidity` and `env_pressure` read for a device in no
/// environment (°C, %RH, hPa), and at the load's trial of every expression.
pub const NO_ROOM: [f64; 3] = [20.0, 50.0, 1013.25];

/// The index in [`UserModel::vars`] of the first reading (after [`BUILTIN_VARS`]).
pub const FIRST_READING: usize = BUILTIN_VARS.len();

/// A user-defined model.
#[derive(Debug, Clone, PartialEq)]
pub struct UserModel {
    /// The name devices give as `model`.
    pub name: String,
    /// Publish period when the group gives none, seconds.
    pub publish_every: f64,
    /// Readings in payload order (by name).
    pub readings: Vec<UserReading>,
    /// Readings in evaluation order: a reading comes after every reading its expression
    /// reads.
    pub order: Vec<usize>,
    /// State variables, by name.
    pub states: Vec<UserState>,
    /// Named commands: `{"command":"start"}`.
    pub commands: Vec<NamedCommand>,
    /// Transitions, in file order; each is tried after every reading.
    pub transitions: Vec<Transition>,
    /// Whether an expression reads the environment (so a device needs one).
    pub uses_environment: bool,
    /// Every variable name, in scope order: builtins, readings, states.
    pub vars: Vec<String>,
    /// `vars` by name.
    pub var_index: HashMap<String, usize>,
}

impl UserModel {
    /// Index in the scope of state `i`.
    pub fn state_var(&self, i: usize) -> usize {
        FIRST_READING + self.readings.len() + i
    }

    /// The state named `name`.
    pub fn state(&self, name: &str) -> Option<usize> {
        self.states.iter().position(|s| s.name == name)
    }

    /// Names of the readings the analytics watch.
    pub fn analysed(&self) -> impl Iterator<Item = &str> {
        self.readings
            .iter()
            .filter(|r| r.analyse)
            .map(|r| r.name.as_str())
    }
}

/// One reading of a user model.
#[derive(Debug, Clone, PartialEq)]
pub struct UserReading {
    /// Its key in the payload.
    pub name: String,
    /// Where its true value comes from.
    pub generator: Generator,
    /// Unit, for humans (`twin check`, docs); not published.
    pub unit: Option<String>,
    /// Published values are rounded to a multiple of this.
    pub resolution: Option<f64>,
    /// Published values are clamped into this range.
    pub range: Option<(f64, f64)>,
    /// Largest calibration offset; each device draws its own in ±accuracy.
    pub accuracy: f64,
    /// Standard deviation of the read noise.
    pub noise: f64,
    /// Chance that a read fails and the reading is left out of a message.
    pub fail_rate: f64,
    /// Whether the analytics watch it.
    pub analyse: bool,
}

/// Where a reading's true value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Generator {
    /// Always this.
    Constant(f64),
    /// Uniform in `[lo, hi]` at each read.
    Uniform(f64, f64),
    /// Normal at each read.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        sd: f64,
    },
    /// A bounded random walk: each read moves by a normal step of `step` (sd), pulled
    /// back to `start` by `reversion` (0..1 of the distance a read).
    RandomWalk {
        /// Start value and the mean it reverts to.
        start: f64,
        /// Standard deviation of one move.
        step: f64,
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
        /// Share of the distance to `start` taken back at each read.
        reversion: f64,
    },
    /// `mean + amplitude · sin(2π (t + phase) / period)`, sim seconds.
    Sine {
        /// Mean.
        mean: f64,
        /// Amplitude.
        amplitude: f64,
        /// Period, seconds.
        period: f64,
        /// Phase, seconds.
        phase: f64,
    },
    /// `from + per_hour · t/3600`, stopping at `to`.
    Ramp {
        /// Value at sim time 0.
        from: f64,
        /// Change per sim hour.
        per_hour: f64,
        /// Where it stops.
        to: Option<f64>,
    },
    /// One value a read, in turn, from the start again after the last.
    Sequence(Vec<f64>),
    /// One value a read, picked at random.
    Pick(Vec<f64>),
    /// An expression over the scope.
    Expr(Expr),
}

/// A state variable.
#[derive(Debug, Clone, PartialEq)]
pub struct UserState {
    /// Its name (in expressions, commands and the payload).
    pub name: String,
    /// What it may hold.
    pub kind: StateKind,
    /// Its value at start.
    pub initial: ExprValue,
    /// Whether it is published with the readings.
    pub publish: bool,
}

/// What a state may hold.
#[derive(Debug, Clone, PartialEq)]
pub enum StateKind {
    /// `true` / `false`.
    Bool,
    /// A number, optionally within a range.
    Number(Option<(f64, f64)>),
    /// One of these words.
    Enum(Vec<String>),
}

impl StateKind {
    /// Whether `v` is a value of this kind.
    pub fn admits(&self, v: &ExprValue) -> bool {
        match (self, v) {
            (StateKind::Bool, ExprValue::Boolean(_)) => true,
            (StateKind::Number(r), ExprValue::Float(x)) => {
                x.is_finite() && r.is_none_or(|(lo, hi)| (lo..=hi).contains(x))
            }
            (StateKind::Enum(words), ExprValue::String(s)) => words.contains(s),
            _ => false,
        }
    }

    /// In words, for messages.
    pub fn describe(&self) -> String {
        match self {
            StateKind::Bool => "true or false".into(),
            StateKind::Number(None) => "a number".into(),
            StateKind::Number(Some((lo, hi))) => format!("a number in [{lo}, {hi}]"),
            StateKind::Enum(words) => format!("one of {}", words.join(", ")),
        }
    }
}

/// `{"command":"<name>"}`: states to set.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedCommand {
    /// The command's name.
    pub name: String,
    /// State index and value.
    pub set: Vec<(usize, ExprValue)>,
}

/// When `when` holds after a reading, set states.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The condition.
    pub when: Expr,
    /// State index and value.
    pub set: Vec<(usize, ExprValue)>,
}

/// An expression as written and its tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// The text as written.
    pub source: String,
    /// The tree evalexpr built from it.
    pub node: Node<DefaultNumericTypes>,
}

impl Expr {
    /// Its value as a number (integers and booleans count); an error names the problem.
    pub fn number(&self, scope: &Scope) -> Result<f64, String> {
        match self.node.eval_with_context(scope) {
            Ok(ExprValue::Float(x)) => Ok(x),
            Ok(ExprValue::Int(i)) => Ok(i as f64),
            Ok(ExprValue::Boolean(b)) => Ok(f64::from(u8::from(b))),
            Ok(other) => Err(format!("`{}` gave {other}, not a number", self.source)),
            Err(e) => Err(format!("`{}`: {e}", self.source)),
        }
    }

    /// Its value as a condition.
    pub fn truth(&self, scope: &Scope) -> Result<bool, String> {
        match self.node.eval_with_context(scope) {
            Ok(ExprValue::Boolean(b)) => Ok(b),
            Ok(other) => Err(format!("`{}` gave {other}, not true or false", self.source)),
            Err(e) => Err(format!("`{}`: {e}", self.source)),
        }
    }
}

/// The variables one device's expressions read: [`UserModel::vars`] with their values.
pub struct Scope<'a> {
    /// Names to indices.
    pub index: &'a HashMap<String, usize>,
    /// Values, in [`UserModel::vars`] order.
    pub values: &'a [ExprValue],
}

impl Context for Scope<'_> {
    type NumericTypes = DefaultNumericTypes;

    fn get_value(&self, identifier: &str) -> Option<&ExprValue> {
        self.index.get(identifier).and_then(|&i| self.values.get(i))
    }

    fn call_function(&self, identifier: &str, _argument: &ExprValue) -> EvalexprResultValue {
        Err(EvalexprError::FunctionIdentifierNotFound(
            identifier.to_string(),
        ))
    }

    fn are_builtin_functions_disabled(&self) -> bool {
        false
    }

    fn set_builtin_functions_disabled(&mut self, _disabled: bool) -> EvalexprResult<()> {
        Err(EvalexprError::BuiltinFunctionsCannotBeDisabled)
    }
}
