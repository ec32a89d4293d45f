//! A model of the kernel for the host tests: a root pool with the slots
//! of the stage-6 layout, and the refusals the kernel makes for the calls
//! the shell uses (`abi::Error`), so the tests see the shell's answer to
//! each. Only what the shell can observe is modelled: kinds, an untyped's
//! free bytes, a task's fields and state, a channel's queue;
//! [`Model::with_program`] adds the task of a program GRUB loaded.

use crate::drivers::Driver;
use crate::system::{Message, System};
use abi::syscall::{ListEntry, TaskField};
use abi::task_root::{
    CHANNEL, CPOOL, DEVICES, IMAGE_POOL, INPUT, PML4, SPARE_BUFFER, TASK, TASK_BUFFER, UNTYPED, VGA,
};
use abi::{CAddr, Error, ObjectKind, is_user_range};
use std::collections::VecDeque;
use std::fmt;
use std::string::String;
use std::vec::Vec;

/// The capacity of a channel (the design's 16 messages).
pub const CHANNEL_CAPACITY: usize = 16;
/// The bytes a retype takes from an untyped, per kind (any fixed size will
/// do for the shell).
const OBJECT_SIZE: u64 = 4096;

/// What a slot holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Object {
    Untyped {
        free: u64,
    },
    /// One entry per `TaskField`, in order; the last (the fault channel)
    /// is optional.
    Task {
        fields: [Option<u64>; 6],
        running: bool,
    },
    Channel {
        messages: VecDeque<Sent>,
    },
    Other(ObjectKind),
}

/// A message as the model keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sent {
    Raw(u64),
    Payload(Vec<u8>),
    Capability(ObjectKind),
}

impl Object {
    fn kind(&self) -> ObjectKind {
        match self {
            Object::Untyped { .. } => ObjectKind::Untyped,
            Object::Task { .. } => ObjectKind::Task,
            Object::Channel { .. } => ObjectKind::Channel,
            Object::Other(kind) => *kind,
        }
    }
}

/// The model kernel, and the console it prints on.
pub struct Model {
    pub slots: Vec<Option<Object>>,
    /// Everything printed.
    pub output: String,
    /// Input messages still to take.
    pub input: VecDeque<u64>,
    pub yields: usize,
    pub exit_code: Option<u64>,
    /// Every call made, by name, in order.
    pub calls: Vec<String>,
}

impl Model {
    /// The root pool the kernel gives rinit in stage 6.
    pub fn new() -> Model {
        let mut slots = vec![None; 256];
        let mut put = |slot: u8, object: Object| slots[usize::from(slot)] = Some(object);
        put(CPOOL, Object::Other(ObjectKind::CPool));
        put(VGA, Object::Other(ObjectKind::DevicePage));
        put(UNTYPED, Object::Untyped { free: 16 * OBJECT_SIZE });
        put(PML4, Object::Other(ObjectKind::Pml4));
        put(TASK, Object::Task { fields: [Some(1); 6], running: true });
        put(IMAGE_POOL, Object::Other(ObjectKind::CPool));
        put(TASK_BUFFER, Object::Other(ObjectKind::RawPage));
        put(INPUT, Object::Channel { messages: VecDeque::new() });
        put(8, Object::Untyped { free: 0x10_0000 });
        put(SPARE_BUFFER, Object::Other(ObjectKind::RawPage));
        put(CHANNEL, Object::Channel { messages: VecDeque::new() });
        Model {
            slots,
            output: String::new(),
            input: VecDeque::new(),
            yields: 0,
            exit_code: None,
            calls: Vec::new(),
        }
    }

    /// With the task of a program GRUB loaded in `slot`, as the kernel
    /// makes it: configured, not running.
    pub fn with_program(mut self, slot: u8) -> Model {
        self.slots[usize::from(slot)] = Some(Object::Task { fields: [Some(1); 6], running: false });
        self
    }

    /// With the kernel's devices pool in slot 251, as drivers need.
    pub fn with_devices(mut self) -> Model {
        self.slots[usize::from(DEVICES)] = Some(Object::Other(ObjectKind::CPool));
        self
    }

    /// The task in `slot` exits: the kernel sets it back, not running.
    pub fn task_exits(&mut self, slot: u8) {
        match &mut self.slots[usize::from(slot)] {
            Some(Object::Task { running, .. }) => *running = false,
            other => panic!("slot {slot} holds {other:?}"),
        }
    }

    /// The object in root slot `at`.
    pub fn slot(&self, at: u8) -> Option<&Object> {
        self.slots[usize::from(at)].as_ref()
    }

    /// The messages waiting on channel 255.
    pub fn channel(&self) -> &VecDeque<Sent> {
        match self.slot(CHANNEL) {
            Some(Object::Channel { messages }) => messages,
            other => panic!("slot 255 holds {other:?}"),
        }
    }

    fn index(at: CAddr) -> Result<usize, Error> {
        match at.path() {
            [slot] => Ok(usize::from(*slot)),
            _ => Err(Error::MalformedAddress),
        }
    }

    fn get(&mut self, at: CAddr) -> Result<&mut Object, Error> {
        let index = Model::index(at)?;
        self.slots[index].as_mut().ok_or(Error::EmptySlot)
    }

    fn kind_at(&mut self, at: CAddr, kind: ObjectKind) -> Result<&mut Object, Error> {
        let object = self.get(at)?;
        if object.kind() == kind { Ok(object) } else { Err(Error::WrongKind) }
    }
}

impl System for Model {
    fn print(&mut self, text: fmt::Arguments) {
        self.output.push_str(&text.to_string());
    }

    fn take_input(&mut self) -> Result<u64, Error> {
        // Out of input: the test is over.
        self.input.pop_front().ok_or(Error::ChannelClosed)
    }

    fn list_pool(&mut self, pool: CAddr, entries: &mut [ListEntry; ListEntry::MAX]) -> Result<usize, Error> {
        self.calls.push(format!("list_pool({pool})"));
        self.kind_at(pool, ObjectKind::CPool)?;
        let mut count = 0;
        for (slot, object) in self.slots.iter().enumerate() {
            let Some(object) = object else { continue };
            let detail = match object {
                Object::Untyped { free } => *free,
                // The model numbers a task by its slot, plus 1000.
                Object::Task { .. } => 1000 + slot as u64,
                _ if slot == usize::from(CPOOL) => self.slots.iter().flatten().count() as u64,
                _ => 0,
            };
            entries[count] = ListEntry { slot: slot as u8, kind: object.kind().code() as u8, detail };
            count += 1;
        }
        Ok(count)
    }

    fn retype(&mut self, untyped: CAddr, kind: ObjectKind, destination: CAddr) -> Result<(), Error> {
        self.calls.push(format!("retype({untyped}, {kind}, {destination})"));
        let Object::Untyped { free } = self.kind_at(untyped, ObjectKind::Untyped)? else { unreachable!() };
        let free = *free;
        if self.slots[Model::index(destination)?].is_some() {
            return Err(Error::SlotOccupied);
        }
        if matches!(kind, ObjectKind::Untyped | ObjectKind::DevicePage) {
            return Err(Error::NotRetypable);
        }
        if free < OBJECT_SIZE {
            return Err(Error::OutOfMemory);
        }
        if let Object::Untyped { free } = self.get(untyped)? {
            *free -= OBJECT_SIZE;
        }
        let object = match kind {
            ObjectKind::Task => Object::Task { fields: [None; 6], running: false },
            ObjectKind::Channel => Object::Channel { messages: VecDeque::new() },
            other => Object::Other(other),
        };
        self.slots[Model::index(destination)?] = Some(object);
        Ok(())
    }

    fn revoke(&mut self, untyped: CAddr) -> Result<(), Error> {
        self.calls.push(format!("revoke({untyped})"));
        // The model keeps no derivation tree: only the refusals.
        self.kind_at(untyped, ObjectKind::Untyped).map(drop)
    }

    fn task_set(&mut self, task: CAddr, field: TaskField, value: u64) -> Result<(), Error> {
        self.calls.push(format!("task_set({task}, {field:?}, {value:#x})"));
        // As the kernel: a running task first, then the value.
        if let Object::Task { running: true, .. } = self.kind_at(task, ObjectKind::Task)? {
            return Err(Error::InUse);
        }
        if field.takes_capability() {
            let at = CAddr::from_raw(value).map_err(|_| Error::MalformedAddress)?;
            let wanted = match field {
                TaskField::CPool => ObjectKind::CPool,
                TaskField::Table => ObjectKind::Pml4,
                TaskField::FaultChannel => ObjectKind::Channel,
                _ => ObjectKind::RawPage,
            };
            self.kind_at(at, wanted)?;
        } else if !is_user_range(value, 0) || value >= abi::USER_END {
            return Err(Error::NotUserAddress);
        }
        if let Object::Task { fields, .. } = self.get(task)? {
            fields[u64::from(field) as usize - 1] = Some(value);
        }
        Ok(())
    }

    fn task_start(&mut self, task: CAddr) -> Result<(), Error> {
        self.calls.push(format!("task_start({task})"));
        let Object::Task { fields, running } = self.kind_at(task, ObjectKind::Task)? else { unreachable!() };
        if *running {
            return Err(Error::InUse);
        }
        // As the kernel: where it starts, its root pool and its page table
        // are needed; the stack pointer and the buffer are not.
        let needed = [TaskField::Instruction, TaskField::CPool, TaskField::Table];
        if needed.iter().any(|&field| fields[u64::from(field) as usize - 1].is_none()) {
            return Err(Error::NotConfigured);
        }
        *running = true;
        Ok(())
    }

    fn task_stop(&mut self, task: CAddr) -> Result<(), Error> {
        self.calls.push(format!("task_stop({task})"));
        let Object::Task { running, .. } = self.kind_at(task, ObjectKind::Task)? else { unreachable!() };
        *running = false;
        Ok(())
    }

    fn channel_put(&mut self, channel: CAddr, message: Message) -> Result<(), Error> {
        self.calls.push(format!("channel_put({channel}, {message:?})"));
        let sent = match message {
            Message::Raw(value) => Sent::Raw(value),
            Message::Payload(bytes) => Sent::Payload(bytes.to_vec()),
            Message::Capability(at) => Sent::Capability(self.get(at)?.kind()),
        };
        let Object::Channel { messages } = self.kind_at(channel, ObjectKind::Channel)? else {
            unreachable!()
        };
        if messages.len() == CHANNEL_CAPACITY {
            return Err(Error::ChannelFull);
        }
        messages.push_back(sent);
        Ok(())
    }

    fn attach_pager(&mut self, program: CAddr, pager: CAddr) -> Result<(), Error> {
        self.calls.push(format!("attach_pager({program}, {pager})"));
        // As the real one: the program's fault channel first, then the pager's start.
        if let Object::Task { running: true, .. } = self.kind_at(program, ObjectKind::Task)? {
            return Err(Error::InUse);
        }
        let Object::Task { running, .. } = self.kind_at(pager, ObjectKind::Task)? else { unreachable!() };
        if *running {
            return Err(Error::InUse);
        }
        *running = true;
        if let Object::Task { fields, .. } = self.get(program)? {
            fields[u64::from(TaskField::FaultChannel) as usize - 1] = Some(0xfc01);
        }
        Ok(())
    }

    fn start_driver(&mut self, task: CAddr, driver: &Driver) -> Result<(), Error> {
        self.calls.push(format!("start_driver({task}, {})", driver.name));
        // As the real one: the devices pool must be there, and the task
        // not running; then it runs.
        self.kind_at(CAddr::root(DEVICES), ObjectKind::CPool)?;
        let Object::Task { running, .. } = self.kind_at(task, ObjectKind::Task)? else { unreachable!() };
        if *running {
            return Err(Error::InUse);
        }
        *running = true;
        Ok(())
    }

    fn yield_now(&mut self) {
        self.yields += 1;
    }

    fn exit(&mut self, code: u64) {
        self.calls.push(format!("exit({code})"));
        self.exit_code = Some(code);
    }
}
