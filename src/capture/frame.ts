/**
 * A frame as a capture file holds it, before any decoding. Readers hand out one mutable `FrameView` per file and
 * overwrite it for every record, so reading allocates nothing per frame; whoever keeps bytes copies or slices them.
 */
export interface FrameView {
  /** Buffer holding the frame; a reader never reuses a buffer, so slices of it stay valid. */
  bytes: Uint8Array;
  /** Index of the frame's first byte in `bytes`. */
  offset: number;
  /** Bytes of the frame in the file (at most the snap length). */
  capturedBytes: number;
  /** Bytes of the frame on the wire; more than `capturedBytes` when the snap length cut it. */
  originalBytes: number;
  /** Whole seconds since the epoch. */
  tsSec: number;
  /** Nanoseconds within the second. */
  tsFracNs: number;
  /** LINKTYPE_* value of the interface that captured the frame. */
  linkType: number;
  /** 1-based frame number, as Wireshark numbers frames. */
  frameNo: number;
  /** Byte offset of the frame's record in the file. */
  fileOffset: number;
}

export function createFrameView(): FrameView {
  return {
    bytes: new Uint8Array(0),
    offset: 0,
    capturedBytes: 0,
    originalBytes: 0,
    tsSec: 0,
    tsFracNs: 0,
    linkType: 0,
    frameNo: 0,
    fileOffset: 0,
  };
}

export type CaptureFormat = 'pcap' | 'pcap-nsec' | 'pcapng';

/** Called once per frame, synchronously; the view is only valid during the call. */
export type FrameHandler = (frame: FrameView) => void;

/** What a reader learned about the file as a whole. */
export interface CaptureFileSummary {
  format: CaptureFormat;
  frames: number;
  bytesRead: number;
}
