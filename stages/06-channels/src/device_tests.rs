//! Host tests of the device objects and their calls: the devices pool the
//! kernel makes, deriving IrqLines and PortRanges, binding, interrupts
//! turned into messages (on the stand-in PIC of `io.rs`), acknowledging,
//! port access, and what a revoke does to each, every error included.

use crate::first_task::devices_pool;
use crate::io;
use crate::objects::audit::{AuditReport, audit};
use crate::objects::channel::{CAPACITY, Channel, Outgoing};
use crate::objects::irq_line::{self, IrqLine, LineState};
use crate::objects::port_range::PortRange;
use crate::objects::task::{TaskQueue, TaskState, run_queue_for_tests};
use crate::objects::testing::{Arena, System, system};
use crate::objects::{AnyObject, CPool, ManagedArc, ObjectKind, RawPage, Task, Untyped, cpool};
use crate::syscalls::{self, Next};
use abi::device::{HANDED_PORTS, LINES, PortSpan, is_handable_line, slot};
use abi::syscall::{MessageKind, SyscallArgs};
use abi::{CAddr, Call, Error};
use proptest::prelude::*;

/// Root slots (1 is the system's untyped).
const TASK: u8 = 2;
const BUFFER: u8 = 3;
const CHANNEL: u8 = 5;
const DEVICES: u8 = 6;
/// An untyped made from slot 1, for objects the tests revoke.
const DRIVER_UNTYPED: u8 = 7;
const SECOND_CHANNEL: u8 = 8;
/// Where the tests derive their objects.
const IRQ: u8 = 10;
const PORTS: u8 = 11;
const FREE: u8 = 12;

/// A free ISA line: nothing of the kernel's reads it.
const FREE_LINE: u8 = 3;
/// COM1's line, which the serial driver binds.
const COM1_LINE: u8 = 4;

/// A task whose root pool has the devices pool (made, as at boot, from a
/// kernel untyped of its own), a channel and an untyped to derive from.
/// Fields drop in order: the task before the memory it lives in.
struct Driver {
    task: ManagedArc<Task>,
    devices: ManagedArc<CPool>,
    system: System,
    kernel: ManagedArc<Untyped>,
    _kernel_memory: Arena,
}

fn driver() -> Driver {
    let system = system(64);
    let kernel_memory = Arena::for_pages(32);
    let kernel = kernel_memory.untyped();
    let devices = devices_pool(&kernel).unwrap();
    let root = &system.root;
    let untyped = CAddr::root(1);
    for (kind, at) in
        [(ObjectKind::Task, TASK), (ObjectKind::RawPage, BUFFER), (ObjectKind::Channel, CHANNEL)]
    {
        cpool::retype(root, untyped, kind, 0, CAddr::root(at)).unwrap();
    }
    cpool::retype(root, untyped, ObjectKind::Channel, 0, CAddr::root(SECOND_CHANNEL)).unwrap();
    cpool::retype(root, untyped, ObjectKind::Untyped, 8 * 4096, CAddr::root(DRIVER_UNTYPED)).unwrap();
    root.slot(0).downgrade(root).unwrap();
    root.slot(DEVICES).downgrade(&devices).unwrap();
    let task = root.slot(TASK).upgrade::<Task>().unwrap();
    task.cpool_slot().downgrade(root).unwrap();
    task.buffer_slot().downgrade(&root.slot(BUFFER).upgrade::<AnyObject>().unwrap()).unwrap();
    task.set_run_state(TaskState::Running);
    Driver { task, devices, system, kernel, _kernel_memory: kernel_memory }
}

/// The raw address of root slot `at`.
fn raw(at: u8) -> u64 {
    CAddr::root(at).to_raw()
}

/// The raw address of the devices pool's slot `index`.
fn device(index: u8) -> u64 {
    CAddr::new(&[DEVICES, index]).unwrap().to_raw()
}

impl Driver {
    /// The task makes `call` with `args`: its result, and what runs next.
    fn call(&self, call: Call, args: [u64; 6]) -> (Result<u64, Error>, Next) {
        self.task.set_call(SyscallArgs { number: call as u64, args });
        let next = syscalls::handle(&self.task, &self.system.root);
        let [rax, rdx, _] = self.task.result_registers();
        (abi::syscall::decode_result(rax, rdx).expect("the kernel returns ABI codes"), next)
    }

    fn result(&self, call: Call, args: [u64; 6]) -> Result<u64, Error> {
        self.call(call, args).0
    }

    /// `IrqDerive` of the line in the devices pool into root slot `to`,
    /// out of the untyped at `untyped`.
    fn derive_irq(&self, line: u8, untyped: u8, to: u8) -> Result<u64, Error> {
        self.result(Call::IrqDerive, [device(slot::irq(line)), raw(untyped), raw(to), 0, 0, 0])
    }

    fn bind(&self, irq: u8, channel: u8) -> Result<u64, Error> {
        self.result(Call::IrqBind, [raw(irq), raw(channel), 0, 0, 0, 0])
    }

    fn acknowledge(&self, irq: u8) -> Result<u64, Error> {
        self.result(Call::IrqAcknowledge, [raw(irq), 0, 0, 0, 0, 0])
    }

    fn irq(&self, at: u8) -> ManagedArc<IrqLine> {
        self.system.root.slot(at).upgrade::<IrqLine>().unwrap()
    }

    fn channel(&self, at: u8) -> ManagedArc<Channel> {
        self.system.root.slot(at).upgrade::<Channel>().unwrap()
    }

    /// Derives the free line's IrqLine into [`IRQ`], binds it to the
    /// channel in [`CHANNEL`] and fills that channel with Raw messages
    /// 0, 1, ...: an interrupt then finds no room. The channel.
    fn line_bound_to_a_full_channel(&self) -> ManagedArc<Channel> {
        assert_eq!(self.derive_irq(FREE_LINE, DRIVER_UNTYPED, IRQ), Ok(0));
        assert_eq!(self.bind(IRQ, CHANNEL), Ok(0));
        let channel = self.channel(CHANNEL);
        for value in 0..CAPACITY as u64 {
            channel.put(Outgoing::Raw(value)).unwrap();
        }
        channel
    }

    /// Takes every message waiting on the channel in slot `at`: kind and
    /// value of each, oldest first.
    fn drain(&self, at: u8) -> Vec<(MessageKind, u64)> {
        let channel = self.channel(at);
        let taken = core::iter::from_fn(|| channel.take(&self.task, 0)).take(CAPACITY + 1);
        taken.map(|message| message.unwrap()).collect()
    }

    /// The audit of everything, which must pass.
    fn audit(&self) -> AuditReport {
        let [first, second] = self.system.roots();
        let mut scratch = vec![0; 4096];
        let queue = TaskQueue::new();
        self.task.set_run_state(TaskState::Running);
        audit(&[first, second, &self.kernel], &queue, &mut scratch).unwrap_or_else(|error| panic!("{error}"))
    }

    /// A picture of the root pool: each slot's kind.
    fn pool_state(&self) -> Vec<Option<ObjectKind>> {
        (0..=255u8).map(|at| self.system.root.slot(at).kind()).collect()
    }
}

// ---- The devices pool -------------------------------------------------------

// ANCHOR: devices_pool_test
#[test]
fn the_devices_pool_has_every_handable_line_and_port_range_and_no_revoke_reaches_them() {
    let driver = driver();
    let pool = &driver.devices;
    for line in 0..LINES {
        let found = pool.slot(slot::irq(line)).upgrade::<IrqLine>();
        match is_handable_line(u64::from(line)) {
            true => assert_eq!(found.unwrap().line(), line),
            false => assert!(pool.slot(line).is_empty(), "line {line} is the kernel's"),
        }
    }
    for (index, span, name) in HANDED_PORTS {
        assert_eq!(pool.slot(index).upgrade::<PortRange>().unwrap().span(), span, "{name}");
    }
    let used = cpool::list(pool).count();
    assert_eq!(used as u64, crate::first_task::DEVICE_OBJECTS - 1);
    // Pinned, as the kernel's page tables are.
    assert!(driver.kernel.revoke().is_err(), "the devices are the kernel's for good");
    driver.audit();
}
// ANCHOR_END: devices_pool_test

#[test]
fn the_device_kinds_are_not_made_by_retype_but_are_copied_and_moved() {
    let driver = driver();
    let before = driver.pool_state();
    for kind in [ObjectKind::IrqLine, ObjectKind::PortRange] {
        let args = [raw(1), kind.code(), raw(FREE), 0, 0, 0];
        assert_eq!(driver.result(Call::Retype, args), Err(Error::NotRetypable), "{kind}");
    }
    assert_eq!(driver.pool_state(), before, "a refused retype changes nothing");
    assert_eq!(driver.result(Call::Copy, [device(slot::irq(FREE_LINE)), raw(IRQ), 0, 0, 0, 0]), Ok(0));
    assert_eq!(driver.result(Call::Move, [raw(IRQ), raw(FREE), 0, 0, 0, 0]), Ok(0));
    assert_eq!(driver.irq(FREE).line(), FREE_LINE);
    assert_eq!(driver.result(Call::Copy, [device(slot::CMOS), raw(PORTS), 0, 0, 0, 0]), Ok(0));
    driver.audit();
}

// ---- Deriving ---------------------------------------------------------------

#[test]
fn irq_derive_makes_an_unbound_line_out_of_the_untyped_and_checks_each_argument() {
    let driver = driver();
    let before = driver.pool_state();
    let cases = [
        ("not an IrqLine", [device(slot::COM1), raw(1), raw(IRQ)], Error::WrongKind),
        ("an empty slot", [device(0), raw(1), raw(IRQ)], Error::EmptySlot),
        ("not an untyped", [device(slot::irq(1)), raw(CHANNEL), raw(IRQ)], Error::WrongKind),
        ("an occupied destination", [device(slot::irq(1)), raw(1), raw(CHANNEL)], Error::SlotOccupied),
        ("a garbage address", [device(slot::irq(1)), raw(1), u64::MAX], Error::MalformedAddress),
    ];
    for (what, [irq, untyped, to], error) in cases {
        assert_eq!(driver.result(Call::IrqDerive, [irq, untyped, to, 0, 0, 0]), Err(error), "{what}");
        assert_eq!(driver.pool_state(), before, "{what}: changes nothing");
    }
    assert_eq!(driver.derive_irq(1, DRIVER_UNTYPED, IRQ), Ok(0));
    let irq = driver.irq(IRQ);
    assert_eq!((irq.line(), irq.line_state()), (1, LineState::Unbound));
    let untyped = driver.system.root.slot(DRIVER_UNTYPED).upgrade::<Untyped>().unwrap();
    assert_eq!(untyped.children().next().map(|child| child.kind), Some(ObjectKind::IrqLine));
    driver.audit();
}

#[test]
fn an_untyped_too_small_for_a_derived_object_is_out_of_memory_and_changes_nothing() {
    let driver = driver();
    let untyped = driver.system.root.slot(DRIVER_UNTYPED).upgrade::<Untyped>().unwrap();
    while untyped.retype::<RawPage>().is_ok() {}
    let before = driver.pool_state();
    assert_eq!(driver.derive_irq(1, DRIVER_UNTYPED, IRQ), Err(Error::OutOfMemory));
    let args = [device(slot::CMOS), raw(DRIVER_UNTYPED), raw(PORTS), 0x70, 1, 0];
    assert_eq!(driver.result(Call::PortDerive, args), Err(Error::OutOfMemory));
    assert_eq!(driver.pool_state(), before);
}

// ANCHOR: derive_bounds_test
#[test]
fn a_derived_port_range_lies_inside_its_parent_and_keeps_at_most_its_right_to_write() {
    let driver = driver();
    let derive = |parent: u64, first: u64, count: u64| {
        let result =
            driver.result(Call::PortDerive, [parent, raw(DRIVER_UNTYPED), raw(PORTS), first, count, 0]);
        let span = driver.system.root.slot(PORTS).upgrade::<PortRange>().map(|range| range.span());
        driver.system.root.slot(PORTS).clear();
        result.map(|_| span.unwrap())
    };
    let com2 = device(slot::COM2);
    let span = |first, last, writable| PortSpan { first, last, writable };
    assert_eq!(derive(com2, 0x2f8, 8), Ok(span(0x2f8, 0x2ff, true)), "all of it");
    assert_eq!(derive(com2, 0x2f9, 2), Ok(span(0x2f9, 0x2fa, true)));
    assert_eq!(derive(com2, 0x2ff, 1), Ok(span(0x2ff, 0x2ff, true)), "its last port");
    assert_eq!(derive(com2, 0x2f0, 9), Err(Error::PortDenied), "starts below");
    assert_eq!(derive(com2, 0x2fc, 5), Err(Error::PortDenied), "ends above");
    assert_eq!(derive(com2, 0x20, 2), Err(Error::PortDenied), "the PIC, outside");
    assert_eq!(derive(com2, 0x2f8, 0), Err(Error::OutOfRange), "empty");
    assert_eq!(derive(com2, 0xffff, 2), Err(Error::OutOfRange), "past port 0xffff");
    assert_eq!(derive(com2, u64::MAX, 2), Err(Error::OutOfRange), "overflowing");
    assert_eq!(derive(com2, 0x2f8, u64::MAX), Err(Error::OutOfRange), "overflowing");
    // COM1's range is read only, and so is everything made from it.
    assert_eq!(derive(device(slot::COM1), 0x3f8, 1), Ok(span(0x3f8, 0x3f8, false)));
    // A range derived from a derived one: inside that one, not the first.
    let result = driver.result(Call::PortDerive, [com2, raw(DRIVER_UNTYPED), raw(FREE), 0x2fa, 2, 0]);
    assert_eq!(result, Ok(0));
    assert_eq!(derive(raw(FREE), 0x2fb, 1), Ok(span(0x2fb, 0x2fb, true)));
    assert_eq!(derive(raw(FREE), 0x2f8, 1), Err(Error::PortDenied), "inside COM2, not inside its parent");
    assert_eq!(derive(raw(IRQ), 0x2f8, 1), Err(Error::EmptySlot));
    assert_eq!(derive(raw(CHANNEL), 0x2f8, 1), Err(Error::WrongKind));
    driver.audit();
}
// ANCHOR_END: derive_bounds_test

// ---- Port access ------------------------------------------------------------

// ANCHOR: port_access_test
#[test]
fn ports_are_read_and_written_only_inside_the_range_and_as_it_allows() {
    let driver = driver();
    io::with_record(|record| record.accesses.clear());
    let read =
        |range: u64, port: u64, width: u64| driver.result(Call::PortRead, [range, port, width, 0, 0, 0]);
    let write = |range: u64, port: u64, width: u64, value: u64| {
        driver.result(Call::PortWrite, [range, port, width, value, 0, 0])
    };
    let (com1, com2) = (device(slot::COM1), device(slot::COM2));
    assert_eq!(read(com1, 0x3fd, 1), Ok(0x3fd), "the stand-in port answers its number");
    assert_eq!(read(com2, 0x2fc, 4), Ok(0x2fc));
    assert_eq!(write(com2, 0x2f8, 1, 0x1234_5641), Ok(0));
    assert_eq!(write(com2, 0x2fe, 2, 0xabcd), Ok(0));
    let done = [
        (0x3fd, 1, 0x3fd, false),
        (0x2fc, 4, 0x2fc, false),
        (0x2f8, 1, 0x41, true),
        (0x2fe, 2, 0xabcd, true),
    ];
    assert_eq!(io::with_record(|record| record.accesses.clone()), done);

    let refused = [
        ("COM1 is the kernel's to write", write(com1, 0x3f8, 1, b'x'.into()), Error::PortDenied),
        ("below the range", read(com2, 0x2f7, 1), Error::PortDenied),
        ("above the range", read(com2, 0x300, 1), Error::PortDenied),
        ("a word over its end", read(com2, 0x2ff, 2), Error::PortDenied),
        ("a double word over its end", write(com2, 0x2fd, 4, 0), Error::PortDenied),
        ("a kernel port", read(com2, 0x21, 1), Error::PortDenied),
        ("width 0", read(com2, 0x2f8, 0), Error::OutOfRange),
        ("width 3", read(com2, 0x2f8, 3), Error::OutOfRange),
        ("width 8", write(com2, 0x2f8, 8, 0), Error::OutOfRange),
        ("the last port there is, outside the range", read(com2, 0xffff, 1), Error::PortDenied),
        ("a port past 0xffff", read(com2, 0x1_0000, 1), Error::OutOfRange),
        ("a port far past 0xffff", read(com2, 0x1_02f8, 1), Error::OutOfRange),
        ("a huge port", write(com2, u64::MAX, 1, 0), Error::OutOfRange),
        ("not a range", read(raw(CHANNEL), 0x2f8, 1), Error::WrongKind),
        ("an IrqLine", read(device(slot::irq(3)), 0x2f8, 1), Error::WrongKind),
        ("an empty slot", read(raw(FREE), 0x2f8, 1), Error::EmptySlot),
    ];
    for (what, result, error) in refused {
        assert_eq!(result, Err(error), "{what}");
    }
    assert_eq!(
        io::with_record(|record| record.accesses.len()),
        done.len(),
        "no refused access touched a port"
    );
}
// ANCHOR_END: port_access_test

#[test]
fn a_revoked_port_range_closes_its_ports_at_once() {
    let driver = driver();
    let args = [device(slot::CMOS), raw(DRIVER_UNTYPED), raw(PORTS), 0x70, 2, 0];
    assert_eq!(driver.result(Call::PortDerive, args), Ok(0));
    assert_eq!(driver.result(Call::PortWrite, [raw(PORTS), 0x70, 1, 0x0a, 0, 0]), Ok(0));
    assert_eq!(driver.result(Call::Revoke, [raw(DRIVER_UNTYPED), 0, 0, 0, 0, 0]), Ok(0));
    io::with_record(|record| record.accesses.clear());
    assert_eq!(driver.result(Call::PortRead, [raw(PORTS), 0x71, 1, 0, 0, 0]), Err(Error::EmptySlot));
    assert!(io::with_record(|record| record.accesses.is_empty()));
    driver.audit();
}

// ---- Binding, interrupts, acknowledging -------------------------------------

// ANCHOR: bind_test
#[test]
fn a_line_is_bound_once_and_each_interrupt_is_one_message_until_acknowledged() {
    let driver = driver();
    assert_eq!(driver.derive_irq(FREE_LINE, DRIVER_UNTYPED, IRQ), Ok(0));
    assert_eq!(driver.acknowledge(IRQ), Err(Error::NoInterrupt), "not bound");
    assert!(io::is_masked(FREE_LINE));
    assert_eq!(driver.bind(IRQ, CHANNEL), Ok(0));
    assert!(!io::is_masked(FREE_LINE), "bound: unmasked");
    assert_eq!(driver.irq(IRQ).line_state(), LineState::Armed);
    // Bound once: by no other object of the line, nor by this one again.
    assert_eq!(driver.bind(IRQ, SECOND_CHANNEL), Err(Error::InUse));
    let the_boot_one = [device(slot::irq(FREE_LINE)), raw(SECOND_CHANNEL), 0, 0, 0, 0];
    assert_eq!(driver.result(Call::IrqBind, the_boot_one), Err(Error::InUse));
    assert_eq!(driver.result(Call::IrqAcknowledge, the_boot_one), Err(Error::NoInterrupt));
    assert_eq!(driver.acknowledge(IRQ), Err(Error::NoInterrupt), "it has not fired");
    driver.audit();

    irq_line::fire(FREE_LINE);
    assert!(io::is_masked(FREE_LINE), "masked until acknowledged");
    irq_line::fire(FREE_LINE);
    assert_eq!(driver.drain(CHANNEL), [(MessageKind::Interrupt, u64::from(FREE_LINE))], "one message");
    assert_eq!(driver.irq(IRQ).line_state(), LineState::Fired);
    driver.audit();
    assert_eq!(driver.acknowledge(IRQ), Ok(0));
    assert!(!io::is_masked(FREE_LINE));
    assert_eq!(driver.acknowledge(IRQ), Err(Error::NoInterrupt), "acknowledged once");
    irq_line::fire(FREE_LINE);
    assert_eq!(driver.drain(CHANNEL), [(MessageKind::Interrupt, u64::from(FREE_LINE))]);
    assert!(driver.drain(SECOND_CHANNEL).is_empty());
    driver.audit();
}
// ANCHOR_END: bind_test

#[test]
fn bind_checks_its_arguments_and_a_refused_bind_changes_nothing() {
    let driver = driver();
    assert_eq!(driver.derive_irq(FREE_LINE, DRIVER_UNTYPED, IRQ), Ok(0));
    let cases = [
        ("not a channel", [raw(IRQ), raw(1)], Error::WrongKind),
        ("no channel", [raw(IRQ), raw(FREE)], Error::EmptySlot),
        ("not an IrqLine", [raw(CHANNEL), raw(CHANNEL)], Error::WrongKind),
        ("a garbage address", [u64::MAX, raw(CHANNEL)], Error::MalformedAddress),
    ];
    for (what, [irq, channel], error) in cases {
        assert_eq!(driver.result(Call::IrqBind, [irq, channel, 0, 0, 0, 0]), Err(error), "{what}");
        assert_eq!(driver.irq(IRQ).line_state(), LineState::Unbound, "{what}");
        assert!(!irq_line::is_bound(FREE_LINE) && io::is_masked(FREE_LINE), "{what}");
    }
    let garbage = [raw(FREE), u64::MAX, 1 << 40];
    for irq in garbage {
        assert!(driver.result(Call::IrqAcknowledge, [irq, 0, 0, 0, 0, 0]).is_err());
    }
    driver.audit();
}

#[test]
fn an_interrupt_wakes_a_driver_waiting_on_its_channel() {
    let _queue = run_queue_for_tests();
    let driver = driver();
    assert_eq!(driver.derive_irq(FREE_LINE, DRIVER_UNTYPED, IRQ), Ok(0));
    assert_eq!(driver.bind(IRQ, CHANNEL), Ok(0));
    let (_, next) = driver.call(Call::ChannelTake, [raw(CHANNEL), 0, 0, 0, 0, 0]);
    assert_eq!((next, driver.task.run_state()), (Next::Other, TaskState::Blocked));
    irq_line::fire(FREE_LINE);
    assert_eq!(driver.task.run_state(), TaskState::Ready, "woken");
    let [rax, rdx, rsi] = driver.task.result_registers();
    assert_eq!(abi::syscall::decode_result(rax, rdx), Ok(Ok(u64::from(FREE_LINE))));
    assert_eq!(rsi, MessageKind::Interrupt as u64);
    crate::objects::task::make_inactive(&driver.task);
}

// ANCHOR: pending_test
#[test]
fn an_interrupt_that_finds_its_channel_full_is_owed_and_delivered_when_there_is_room() {
    let driver = driver();
    let channel = driver.line_bound_to_a_full_channel();
    irq_line::fire(FREE_LINE);
    assert_eq!(driver.irq(IRQ).line_state(), LineState::Pending);
    assert!(io::is_masked(FREE_LINE), "masked while owed");
    assert_eq!(driver.acknowledge(IRQ), Err(Error::NoInterrupt), "not delivered yet");
    driver.audit();
    irq_line::deliver_pending();
    assert_eq!((channel.len(), driver.irq(IRQ).line_state()), (CAPACITY, LineState::Pending), "still full");
    assert_eq!(channel.take(&driver.task, 0), Some(Ok((MessageKind::Raw, 0))));
    irq_line::deliver_pending();
    assert_eq!(driver.irq(IRQ).line_state(), LineState::Fired);
    let messages = driver.drain(CHANNEL);
    assert_eq!(messages.len(), CAPACITY);
    assert_eq!(messages.last(), Some(&(MessageKind::Interrupt, u64::from(FREE_LINE))), "not lost");
    irq_line::deliver_pending();
    assert!(driver.drain(CHANNEL).is_empty(), "delivered once");
    assert_eq!(driver.acknowledge(IRQ), Ok(0));
    driver.audit();
}
// ANCHOR_END: pending_test

#[test]
fn owed_messages_go_only_to_the_lines_that_owe_them() {
    let driver = driver();
    let full = driver.line_bound_to_a_full_channel();
    let (other_line, other) = (5, FREE);
    assert_eq!(driver.derive_irq(other_line, DRIVER_UNTYPED, other), Ok(0));
    assert_eq!(driver.bind(other, SECOND_CHANNEL), Ok(0));
    irq_line::fire(FREE_LINE);
    assert_eq!(full.take(&driver.task, 0), Some(Ok((MessageKind::Raw, 0))));
    irq_line::deliver_pending();
    // The owed message arrives; the other line, armed and silent, puts
    // nothing on its own channel.
    assert_eq!(driver.drain(CHANNEL).last(), Some(&(MessageKind::Interrupt, u64::from(FREE_LINE))));
    assert!(driver.drain(SECOND_CHANNEL).is_empty(), "a line that did not fire sent a message");
    assert_eq!(driver.irq(other).line_state(), LineState::Armed);
    driver.audit();
}

/// What a listing says of the device objects: `ListPool`'s detail is an
/// IrqLine's line and a PortRange's first port; the kernel's description
/// says the line's state and the range's ports and right.
#[test]
fn a_listing_names_each_line_and_each_range() {
    let driver = driver();
    let count = driver.result(Call::ListPool, [raw(DEVICES), 0, 0, 0, 0, 0]).unwrap();
    let page = driver.system.root.slot(BUFFER).upgrade::<AnyObject>().unwrap();
    // SAFETY: a RawPage of heap memory, the task's buffer; the test is its
    // only user while it reads it.
    let buffer = unsafe { &*(page.address() as *const [u8; 4096]) };
    let entries: Vec<_> = abi::syscall::ListEntry::decode_all(buffer, count).map(Option::unwrap).collect();
    let detail = |at: u8| entries.iter().find(|entry| entry.slot == at).map(|entry| entry.detail);
    assert_eq!(detail(slot::irq(FREE_LINE)), Some(u64::from(FREE_LINE)));
    assert_eq!(detail(slot::irq(COM1_LINE)), Some(u64::from(COM1_LINE)));
    assert_eq!(detail(slot::COM2), Some(0x2f8));
    assert_eq!(detail(slot::CMOS), Some(0x70));

    assert_eq!(driver.derive_irq(FREE_LINE, DRIVER_UNTYPED, IRQ), Ok(0));
    let described = |at: u8| format!("{}", cpool::describe(driver.system.root.slot(at)));
    assert!(described(IRQ).contains(", line 3 ("), "{}", described(IRQ));
    assert_eq!(driver.bind(IRQ, CHANNEL), Ok(0));
    assert!(described(IRQ).contains(", line 3, bound (Armed)"), "{}", described(IRQ));
    let args = [device(slot::CMOS), raw(DRIVER_UNTYPED), raw(PORTS), 0x70, 2, 0];
    assert_eq!(driver.result(Call::PortDerive, args), Ok(0));
    let range = described(PORTS);
    assert!(range.contains(", ports 0x70 to 0x71, read and write"), "{range}");
}

#[test]
fn a_task_cannot_put_an_interrupt_message() {
    let driver = driver();
    let args = [raw(CHANNEL), MessageKind::Interrupt as u64, 4, 0, 0, 0];
    assert_eq!(driver.result(Call::ChannelPut, args), Err(Error::OutOfRange));
    let args = [raw(CHANNEL), MessageKind::Interrupt as u64, 4, raw(SECOND_CHANNEL), 0, 0];
    assert_eq!(driver.result(Call::ChannelCall, args), Err(Error::OutOfRange));
    assert!(driver.drain(CHANNEL).is_empty());
}

// ---- Revoking ---------------------------------------------------------------

// ANCHOR: revoke_test
#[test]
fn revoking_a_bound_line_masks_and_unbinds_it_at_once_and_its_message_stays() {
    let driver = driver();
    assert_eq!(driver.derive_irq(FREE_LINE, DRIVER_UNTYPED, IRQ), Ok(0));
    assert_eq!(driver.bind(IRQ, CHANNEL), Ok(0));
    irq_line::fire(FREE_LINE);
    assert_eq!(driver.acknowledge(IRQ), Ok(0));
    irq_line::fire(FREE_LINE);
    assert_eq!(driver.result(Call::Revoke, [raw(DRIVER_UNTYPED), 0, 0, 0, 0, 0]), Ok(0));
    assert!(!irq_line::is_bound(FREE_LINE) && io::is_masked(FREE_LINE), "unbound and masked");
    assert_eq!(driver.acknowledge(IRQ), Err(Error::EmptySlot), "the capability is gone");
    driver.audit();
    irq_line::fire(FREE_LINE);
    let line = u64::from(FREE_LINE);
    let interrupt = (MessageKind::Interrupt, line);
    assert_eq!(driver.drain(CHANNEL), [interrupt, interrupt], "the messages put stay; nothing more comes");
    // The line is free for another driver.
    assert_eq!(driver.derive_irq(FREE_LINE, 1, IRQ), Ok(0));
    assert_eq!(driver.bind(IRQ, SECOND_CHANNEL), Ok(0));
    driver.audit();
}
// ANCHOR_END: revoke_test

#[test]
fn revoking_a_line_while_its_message_is_owed_to_a_full_channel_delivers_nothing() {
    let driver = driver();
    let channel = driver.line_bound_to_a_full_channel();
    irq_line::fire(FREE_LINE);
    assert_eq!(driver.result(Call::Revoke, [raw(DRIVER_UNTYPED), 0, 0, 0, 0, 0]), Ok(0));
    channel.take(&driver.task, 0).unwrap().unwrap();
    irq_line::deliver_pending();
    assert!(driver.drain(CHANNEL).iter().all(|&(kind, _)| kind == MessageKind::Raw));
    driver.audit();
}

#[test]
fn destroying_the_bound_channel_unbinds_and_masks_the_line() {
    let driver = driver();
    let root = &driver.system.root;
    // The channel in an untyped of its own, to revoke.
    cpool::retype(root, CAddr::root(DRIVER_UNTYPED), ObjectKind::Channel, 0, CAddr::root(FREE)).unwrap();
    assert_eq!(driver.derive_irq(FREE_LINE, 1, IRQ), Ok(0));
    assert_eq!(driver.bind(IRQ, FREE), Ok(0));
    assert_eq!(driver.result(Call::Revoke, [raw(DRIVER_UNTYPED), 0, 0, 0, 0, 0]), Ok(0));
    assert!(!irq_line::is_bound(FREE_LINE) && io::is_masked(FREE_LINE));
    assert_eq!(driver.irq(IRQ).line_state(), LineState::Unbound);
    assert_eq!(driver.acknowledge(IRQ), Err(Error::NoInterrupt));
    driver.audit();
    assert_eq!(driver.bind(IRQ, CHANNEL), Ok(0), "bound again, to a live channel");
    driver.audit();
}

#[test]
fn com1_is_masked_until_its_driver_binds_it_and_once_its_driver_is_gone() {
    // The kernel reads no device itself: a line nobody has bound is masked,
    // COM1's too.
    let driver = driver();
    assert!(io::is_masked(COM1_LINE) && !irq_line::is_bound(COM1_LINE));
    assert_eq!(driver.derive_irq(COM1_LINE, DRIVER_UNTYPED, IRQ), Ok(0));
    assert_eq!(driver.bind(IRQ, CHANNEL), Ok(0));
    assert!(!io::is_masked(COM1_LINE));
    irq_line::fire(COM1_LINE);
    assert!(io::is_masked(COM1_LINE));
    assert_eq!(driver.result(Call::Revoke, [raw(DRIVER_UNTYPED), 0, 0, 0, 0, 0]), Ok(0));
    assert!(!irq_line::is_bound(COM1_LINE) && io::is_masked(COM1_LINE), "nobody's: masked");
    driver.audit();
}

#[test]
fn deleting_a_capability_to_a_bound_line_leaves_the_line_to_its_untyped() {
    // An object lives as long as its untyped holds it: deleting a
    // capability destroys nothing, and the line stays bound until a
    // revoke (the kernel's rule for every kind).
    let driver = driver();
    assert_eq!(driver.derive_irq(FREE_LINE, DRIVER_UNTYPED, IRQ), Ok(0));
    assert_eq!(driver.bind(IRQ, CHANNEL), Ok(0));
    assert_eq!(driver.result(Call::Delete, [raw(IRQ), 0, 0, 0, 0, 0]), Ok(0));
    assert!(irq_line::is_bound(FREE_LINE));
    driver.audit();
    assert_eq!(driver.result(Call::Revoke, [raw(DRIVER_UNTYPED), 0, 0, 0, 0, 0]), Ok(0));
    assert!(!irq_line::is_bound(FREE_LINE));
    driver.audit();
}

// ---- Hostile arguments ------------------------------------------------------

/// An argument for a device call: a slot the tests set up, somewhere in
/// the devices pool, or garbage.
fn argument() -> impl Strategy<Value = u64> {
    prop_oneof![
        (0u8..16).prop_map(raw),
        (0u8..24).prop_map(device),
        0u64..0x1_0000,
        any::<u64>(),
        Just(0x2f8),
        (0u64..6),
    ]
}

fn device_call() -> impl Strategy<Value = Call> {
    prop_oneof![
        Just(Call::IrqDerive),
        Just(Call::IrqBind),
        Just(Call::IrqAcknowledge),
        Just(Call::PortDerive),
        Just(Call::PortRead),
        Just(Call::PortWrite),
        Just(Call::Revoke),
        Just(Call::Delete),
        Just(Call::ChannelTake),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    // ANCHOR: hostile_test
    /// Any sequence of device calls with any arguments, with interrupts on
    /// every line in between: no panic, every result a typed error or a
    /// success, the audit clean after each, and no port of the kernel's
    /// ever touched.
    #[test]
    fn hostile_device_calls_never_break_the_kernel(
        calls in proptest::collection::vec((device_call(), [argument(), argument(), argument(), argument(), argument()], 0u8..16), 1..40)
    ) {
        // An interrupt may wake the task from a take: into the run queue.
        let _queue = run_queue_for_tests();
        let driver = driver();
        io::with_record(|record| record.accesses.clear());
        for (call, [a, b, c, d, e], line) in calls {
            let _ = driver.call(call, [a, b, c, d, e, 0]);
            // A take that blocked is cancelled: this test has no scheduler.
            crate::objects::task::make_inactive(&driver.task);
            driver.task.set_run_state(TaskState::Running);
            irq_line::fire(line);
            irq_line::deliver_pending();
            driver.audit();
        }
        let touched = io::with_record(|record| record.accesses.clone());
        for (port, width, _, write) in touched {
            let span = PortSpan { first: port, last: port + u16::from(width) - 1, writable: write };
            prop_assert!(abi::device::may_be_handed(&span), "{port:#x} touched");
        }
    }
    // ANCHOR_END: hostile_test
}
